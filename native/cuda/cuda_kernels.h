// Netlens's own CUDA kernels (pooling, batch norm, activations, losses, the fused optimizer), each
// with a host launcher that enqueues it on a stream and returns the launch status. NCHW fp32, plus the
// fp32 ⇄ bf16 casts of bf16 mixed precision.
// The CPU kernels in native/cpu are the reference each one is tested against (cuda_parity_test).
#pragma once

#include <cstdint>

#include <cuda_runtime_api.h>

#include "layout_math.h"
#include "optimizer_math.h"

namespace netlens::cuda::kernels {

enum class Activation { Relu, Relu6, LeakyRelu, Sigmoid, Tanh, Silu, Gelu, GeluTanh };

/** y = f(x). `parameter` is LeakyReLU's negative slope. */
cudaError_t activationForward(cudaStream_t stream, Activation kind, float parameter, int64_t count, const float* x, float* y);
/** dx (+)= f'(x)·dy; `accumulate` adds into dx (a value read by several nodes). */
cudaError_t activationBackward(cudaStream_t stream, Activation kind, float parameter, int64_t count, const float* x,
                               const float* y, const float* dy, float* dx, bool accumulate);

/** y[r, c] += bias[c] for `rows` rows of `columns`. */
cudaError_t addBiasRows(cudaStream_t stream, int64_t rows, int64_t columns, const float* bias, float* y);
/** db[c] (+)= Σ_r dy[r, c]. */
cudaError_t sumRows(cudaStream_t stream, int64_t rows, int64_t columns, const float* dy, float* db, bool accumulate);

/** out = Σ inputs (alpha scales input 1 when there are two); `count` values each. */
cudaError_t addTensors(cudaStream_t stream, int64_t count, int inputs, const float* const* values, float alpha, float* out);
/** dst (+)= scale·src. */
cudaError_t scaleCopy(cudaStream_t stream, int64_t count, const float* src, float scale, float* dst, bool accumulate);

// Pool and BatchNorm (layout_math.h) carry the layout: NCHW, or NHWC when channelsLast.
cudaError_t maxPoolForward(cudaStream_t stream, const Pool& g, const float* x, float* y, int32_t* indices);
/** dx must be zeroed first unless `accumulate` (the windows may overlap, so dx is scattered into). */
cudaError_t maxPoolBackward(cudaStream_t stream, const Pool& g, const float* dy, const int32_t* indices, float* dx);
cudaError_t avgPoolForward(cudaStream_t stream, const Pool& g, bool countIncludePad, int divisorOverride, const float* x, float* y);
cudaError_t avgPoolBackward(cudaStream_t stream, const Pool& g, bool countIncludePad, int divisorOverride, const float* dy, float* dx);
cudaError_t adaptiveAvgPoolForward(cudaStream_t stream, const Pool& g, const float* x, float* y);
cudaError_t adaptiveAvgPoolBackward(cudaStream_t stream, const Pool& g, const float* dy, float* dx);

/** mean/invStd (channels each) receive the statistics used; running buffers may be null when !track. */
// channelsLast: `scratch` holds batchNormScratchDoubles(g) doubles for the two-stage reduction
// (layout_math.h); without it the one-block-per-channel kernels run, correct but uncoalesced on NHWC.
cudaError_t batchNormForward(cudaStream_t stream, const BatchNorm& g, const float* x, const float* gamma, const float* beta,
                             float* runningMean, float* runningVar, float* batchesTracked, float* mean, float* invStd, float* y,
                             double* scratch = nullptr);
cudaError_t batchNormBackward(cudaStream_t stream, const BatchNorm& g, const float* x, const float* gamma, const float* mean,
                              const float* invStd, const float* dy, float* dx, bool accumulateDx, float* dgamma, float* dbeta,
                              bool accumulateParams, double* scratch = nullptr);

/**
 * Dropout with a counter-based generator: element i of step `*counter` is kept when
 * hash(seed, *counter, i) ≥ p. The counter lives in device memory so a captured graph draws new masks
 * on every replay; mask holds 0 or 1/(1−p). channels > 0: x is NHWC (`spatial` = H·W) and element i
 * is hashed at its NCHW offset, so both layouts draw the same masks.
 */
cudaError_t dropoutForward(cudaStream_t stream, int64_t count, float p, uint64_t seed, const uint64_t* counter, const float* x,
                           float* mask, float* y, int64_t channels = 0, int64_t spatial = 1);
cudaError_t multiplyMask(cudaStream_t stream, int64_t count, const float* dy, const float* mask, float* dx, bool accumulate);

/**
 * Mean softmax cross-entropy over rows (labels are class indices stored as floats) with label
 * smoothing; writes the gradient of the mean, the loss into *loss and the rows whose arg-max is the
 * label into *correct. A label outside [0, classes) makes the loss NaN.
 */
cudaError_t softmaxCrossEntropy(cudaStream_t stream, int64_t rows, int64_t classes, const float* logits, const float* labels,
                                float smoothing, double* rowScratch /* 2·rows */, float* dlogits, float* loss, int32_t* correct);
/** Blocks meanSquaredError uses; `partial` holds that many doubles. */
constexpr int kLossPartials = 1024;
cudaError_t meanSquaredError(cudaStream_t stream, int64_t count, const float* prediction, const float* target, double* partial,
                             float* dprediction, float* loss);

/** One chunk of one tensor for the multi-tensor optimizer launch (slots as optimizerElement names them). */
struct OptimizerChunk {
  float* value;
  const float* gradient;
  float* first;   // momentum_buffer (SGD) / exp_avg (Adam) / square_avg (RMSProp); null when none
  float* second;  // exp_avg_sq (Adam) / grad_avg (centered RMSProp)
  float* third;   // momentum_buffer (RMSProp with momentum)
  int64_t begin, end;
};
/**
 * Updates every chunk in one launch. The step's rate and bias corrections are read from device
 * memory (`step`), and nothing is updated when `*loss` is not finite, so a replayed graph follows the
 * CPU engine's rule that a NaN step changes nothing.
 */
cudaError_t optimizerUpdate(cudaStream_t stream, const OptimizerConfig& config, const OptimizerChunk* chunks, int chunkCount,
                            const OptimizerStep* step, const float* loss);
/**
 * bf16 mixed precision: the casts around cuDNN and cuBLAS calls. bf16 values travel as their 16 bits
 * (the upper half of an IEEE fp32) so host code needs no cuda_bf16.h.
 * floatToBf16: dst = bf16(src) rounded to nearest, ties to even (as PyTorch's .to(torch.bfloat16));
 * bf16ToFloat: dst (+)= float(src), exact.
 */
cudaError_t floatToBf16(cudaStream_t stream, int64_t count, const float* src, uint16_t* dst);
cudaError_t bf16ToFloat(cudaStream_t stream, int64_t count, const uint16_t* src, float* dst, bool accumulate);
/** dst[n, c, i] = float(src[n, c, i]) + bias[c] for NCHW-like data (`inner` values a channel; NHWC
 * when channelsLast): a bf16 convolution's output widened with its fp32 bias added in the same pass. */
cudaError_t bf16ToFloatAddBias(cudaStream_t stream, int64_t count, const uint16_t* src, const float* bias, int64_t channels,
                               int64_t inner, float* dst,
                               bool channelsLast = false);

/** *counter += 1 (the dropout step counter), on the device. */
cudaError_t incrementCounter(cudaStream_t stream, uint64_t* counter);

}  // namespace netlens::cuda::kernels
