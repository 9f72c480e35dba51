// Batch and layer normalization. Sums run in double so statistics of large batches stay accurate;
// channels (batch norm) and rows (layer norm) are independent and split across threads.
#include <cmath>

#include "kernels.h"

namespace netlens::cpu {

void batchNormForwardTrain(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* gamma,
                           const float* beta, float eps, float* y, float* saveMean, float* saveInvStd,
                           float* unbiasedVar) {
  const int64_t count = batch * inner;
  parallelFor(channels, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      double sum = 0.0;
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) sum += in[i];
      }
      const double mean = sum / static_cast<double>(count);
      double squares = 0.0;
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const double d = in[i] - mean;
          squares += d * d;
        }
      }
      const double variance = squares / static_cast<double>(count);
      const double invStd = 1.0 / std::sqrt(variance + eps);
      saveMean[c] = static_cast<float>(mean);
      saveInvStd[c] = static_cast<float>(invStd);
      unbiasedVar[c] = static_cast<float>(count > 1 ? squares / static_cast<double>(count - 1) : variance);
      const float scale = static_cast<float>(invStd) * (gamma ? gamma[c] : 1.0f);
      const float shift = (beta ? beta[c] : 0.0f) - static_cast<float>(mean) * scale;
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        float* out = y + (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) out[i] = in[i] * scale + shift;
      }
    }
  });
}

void batchNormForwardEval(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* gamma,
                          const float* beta, const float* mean, const float* invStd, float* y) {
  parallelFor(channels, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      const float scale = invStd[c] * (gamma ? gamma[c] : 1.0f);
      const float shift = (beta ? beta[c] : 0.0f) - mean[c] * scale;
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        float* out = y + (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) out[i] = in[i] * scale + shift;
      }
    }
  });
}

void batchNormBackward(int64_t batch, int64_t channels, int64_t inner, bool batchStats, const float* x,
                       const float* gamma, const float* mean, const float* invStd, const float* dy, float* dx,
                       float* dgamma, float* dbeta) {
  const double count = static_cast<double>(batch * inner);
  parallelFor(channels, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      double sumDy = 0.0;
      double sumDyXhat = 0.0;
      const double m = mean[c];
      const double s = invStd[c];
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        const float* grad = dy + (n * channels + c) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          sumDy += grad[i];
          sumDyXhat += grad[i] * (in[i] - m) * s;
        }
      }
      if (dgamma) dgamma[c] = static_cast<float>(sumDyXhat);
      if (dbeta) dbeta[c] = static_cast<float>(sumDy);
      if (!dx) continue;
      const double g = gamma ? gamma[c] : 1.0;
      for (int64_t n = 0; n < batch; ++n) {
        const float* in = x + (n * channels + c) * inner;
        const float* grad = dy + (n * channels + c) * inner;
        float* out = dx + (n * channels + c) * inner;
        if (!batchStats) {
          const float scale = static_cast<float>(g * s);
          for (int64_t i = 0; i < inner; ++i) out[i] = grad[i] * scale;
          continue;
        }
        // dx = γ·s/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
        const double meanDy = sumDy / count;
        const double meanDyXhat = sumDyXhat / count;
        for (int64_t i = 0; i < inner; ++i) {
          const double xhat = (in[i] - m) * s;
          out[i] = static_cast<float>(g * s * (grad[i] - meanDy - xhat * meanDyXhat));
        }
      }
    }
  });
}

void layerNormForward(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                      float* y, float* saveMean, float* saveInvStd) {
  parallelFor(rows, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x + r * cols;
      float* out = y + r * cols;
      double sum = 0.0;
      for (int64_t i = 0; i < cols; ++i) sum += in[i];
      const double mean = sum / static_cast<double>(cols);
      double squares = 0.0;
      for (int64_t i = 0; i < cols; ++i) squares += (in[i] - mean) * (in[i] - mean);
      const double invStd = 1.0 / std::sqrt(squares / static_cast<double>(cols) + eps);
      saveMean[r] = static_cast<float>(mean);
      saveInvStd[r] = static_cast<float>(invStd);
      for (int64_t i = 0; i < cols; ++i) {
        const float xhat = static_cast<float>((in[i] - mean) * invStd);
        out[i] = xhat * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
      }
    }
  });
}

void layerNormBackward(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* mean,
                       const float* invStd, const float* dy, float* dx, float* dgamma, float* dbeta) {
  if (dgamma) {
    for (int64_t i = 0; i < cols; ++i) dgamma[i] = 0.0f;
  }
  if (dbeta) {
    for (int64_t i = 0; i < cols; ++i) dbeta[i] = 0.0f;
  }
  // Parameter gradients sum over rows, so they are accumulated serially; dx rows split across threads.
  for (int64_t r = 0; r < rows && (dgamma || dbeta); ++r) {
    const float* in = x + r * cols;
    const float* grad = dy + r * cols;
    for (int64_t i = 0; i < cols; ++i) {
      if (dgamma) dgamma[i] += grad[i] * (in[i] - mean[r]) * invStd[r];
      if (dbeta) dbeta[i] += grad[i];
    }
  }
  if (!dx) return;
  parallelFor(rows, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x + r * cols;
      const float* grad = dy + r * cols;
      float* out = dx + r * cols;
      const double s = invStd[r];
      double sumG = 0.0;
      double sumGXhat = 0.0;
      for (int64_t i = 0; i < cols; ++i) {
        const double g = static_cast<double>(grad[i]) * (gamma ? gamma[i] : 1.0f);
        sumG += g;
        sumGXhat += g * (in[i] - mean[r]) * s;
      }
      const double n = static_cast<double>(cols);
      for (int64_t i = 0; i < cols; ++i) {
        const double g = static_cast<double>(grad[i]) * (gamma ? gamma[i] : 1.0f);
        const double xhat = (in[i] - mean[r]) * s;
        out[i] = static_cast<float>(s * (g - sumG / n - xhat * sumGXhat / n));
      }
    }
  });
}

}  // namespace netlens::cpu
