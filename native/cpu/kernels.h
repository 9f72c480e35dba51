// CPU reference kernels: plain loops the compiler vectorizes, im2col + a blocked GEMM for
// convolutions, and a thread split over independent work (samples, rows, channels). Every kernel
// works on raw contiguous float32 buffers (row-major, NCHW); shapes come from the caller.
// Backward kernels overwrite their outputs unless their comment says they accumulate.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace netlens::cpu {

// ---- threads -------------------------------------------------------------------------------------
/** Threads kernels use (default: the hardware's count; NETLENS_THREADS overrides). */
int threadCount();
void setThreadCount(int threads);
/**
 * Runs body(begin, end) over [0, count) split into at most threadCount() contiguous chunks of at
 * least `grain` items; the calling thread takes one chunk. body(…) also gets the chunk's index,
 * which is below threadCount(), for per-thread scratch space.
 */
void parallelFor(int64_t count, int64_t grain, const std::function<void(int64_t begin, int64_t end, int chunk)>& body);

// ---- GEMM ----------------------------------------------------------------------------------------
/**
 * C[M,N] = op(A)[M,K] · op(B)[K,N] + beta·C, row-major with leading dimensions; op transposes when
 * asked. `parallel` splits the rows (or columns when M is small) across threads.
 */
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, bool parallel);

// ---- convolution ---------------------------------------------------------------------------------
struct ConvGeometry {
  int64_t batch = 1, inChannels = 1, inH = 1, inW = 1;
  int64_t outChannels = 1, outH = 1, outW = 1;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
  int64_t groups = 1;
};
/** y = conv(x, w); w is [outChannels, inChannels/groups, kH, kW]. No bias. */
void convForward(const ConvGeometry& g, const float* x, const float* w, float* y);
/** dx = the gradient of conv w.r.t. its input (also the forward of a transposed convolution). */
void convBackwardData(const ConvGeometry& g, const float* dy, const float* w, float* dx);
/** dw = the gradient of conv w.r.t. its weight. */
void convBackwardWeight(const ConvGeometry& g, const float* x, const float* dy, float* dw);
/** y[n, c, ...] += bias[c] over `inner` values per channel. */
void addChannelBias(int64_t batch, int64_t channels, int64_t inner, const float* bias, float* y);
/** dbias[c] = Σ dy[n, c, ...]. */
void channelSum(int64_t batch, int64_t channels, int64_t inner, const float* dy, float* dbias);

// ---- pooling -------------------------------------------------------------------------------------
struct PoolGeometry {
  int64_t planes = 1;  // batch × channels
  int64_t inH = 1, inW = 1, outH = 1, outW = 1;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1, padH = 0, padW = 0, dilationH = 1, dilationW = 1;
};
/** PyTorch's pooled extent: floor or ceil, and a last window must start inside the padded input. */
int64_t pooledExtent(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation, bool ceilMode);
/** indices hold the flat position (h·inW + w) of each maximum within its plane, as PyTorch's do. */
void maxPoolForward(const PoolGeometry& g, const float* x, float* y, int64_t* indices);
void maxPoolBackward(const PoolGeometry& g, const float* dy, const int64_t* indices, float* dx);
void avgPoolForward(const PoolGeometry& g, bool countIncludePad, int64_t divisorOverride, const float* x, float* y);
void avgPoolBackward(const PoolGeometry& g, bool countIncludePad, int64_t divisorOverride, const float* dy, float* dx);
void adaptiveAvgPoolForward(const PoolGeometry& g, const float* x, float* y);
void adaptiveAvgPoolBackward(const PoolGeometry& g, const float* dy, float* dx);
/** y (planes × outH × outW) gets x at the flat positions in indices; everything else is zero. */
void maxUnpoolForward(int64_t planes, int64_t inPlane, int64_t outPlane, const float* x, const int64_t* indices, float* y);
void maxUnpoolBackward(int64_t planes, int64_t inPlane, int64_t outPlane, const float* dy, const int64_t* indices,
                       float* dx);

// ---- activations ---------------------------------------------------------------------------------
/**
 * Parameters a, b by kind: LeakyRelu a = negative_slope; Elu/Celu a = alpha; Softplus a = beta,
 * b = threshold; Hardtanh a = min_val, b = max_val; Softshrink/Hardshrink a = lambd; Pow a = exponent;
 * Clamp a = min, b = max (±infinity when absent). Others: none.
 */
enum class Activation {
  Relu, Relu6, LeakyRelu, Gelu, GeluTanh, Silu, Sigmoid, Tanh, Hardswish,
  Elu, Selu, Celu, Softplus, Hardsigmoid, Hardtanh, Mish, Softsign, LogSigmoid, Tanhshrink, Softshrink, Hardshrink,
  Exp, Log, Sqrt, Rsqrt, Abs, Pow, Clamp
};
void activationForward(Activation kind, float a, float b, int64_t count, const float* x, float* y);
/** dx = dy · f'(x). */
void activationBackward(Activation kind, float a, float b, int64_t count, const float* x, const float* dy, float* dx);

// ---- normalization -------------------------------------------------------------------------------
/**
 * Batch norm over [batch, channels, inner]. Training: statistics of this batch; saveMean and
 * saveInvStd receive them (invstd = 1/sqrt(biased var + eps)) and batchVar the unbiased variance for
 * the running estimate. gamma/beta may be null (affine=False).
 */
void batchNormForwardTrain(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* gamma,
                           const float* beta, float eps, float* y, float* saveMean, float* saveInvStd,
                           float* unbiasedVar);
/** Eval with given statistics (running mean and 1/sqrt(running var + eps)). */
void batchNormForwardEval(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* gamma,
                          const float* beta, const float* mean, const float* invStd, float* y);
/**
 * Backward of either mode: with batchStats the statistics depend on x (training); otherwise they
 * are constants. dgamma/dbeta/dx may be null.
 */
void batchNormBackward(int64_t batch, int64_t channels, int64_t inner, bool batchStats, const float* x,
                       const float* gamma, const float* mean, const float* invStd, const float* dy, float* dx,
                       float* dgamma, float* dbeta);
/** Layer norm over the last `cols` values of each of `rows` rows; saveMean/saveInvStd per row. */
void layerNormForward(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* beta, float eps,
                      float* y, float* saveMean, float* saveInvStd);
void layerNormBackward(int64_t rows, int64_t cols, const float* x, const float* gamma, const float* mean,
                       const float* invStd, const float* dy, float* dx, float* dgamma, float* dbeta);

// ---- losses --------------------------------------------------------------------------------------
/**
 * Mean softmax cross-entropy of logits [rows, classes] against class indices, with PyTorch's
 * label smoothing; dlogits (may be null) receives the gradient of the mean loss.
 */
double softmaxCrossEntropy(int64_t rows, int64_t classes, const float* logits, const float* labels,
                           float labelSmoothing, float* dlogits);
/** Mean squared error; dprediction (may be null) receives its gradient. */
double meanSquaredError(int64_t count, const float* prediction, const float* target, float* dprediction);

// ---- more ops (tensor_ops.cpp, pool.cpp) ---------------------------------------------------------
/** Adaptive max pooling (PyTorch's floor/ceil windows); indices as maxPoolForward's, so
 *  maxPoolBackward (with the same in/out extents) is its backward. */
void adaptiveMaxPoolForward(const PoolGeometry& g, const float* x, float* y, int64_t* indices);

/** Softmax or log-softmax along one dimension of a tensor seen as [outer, extent, inner]. */
void softmaxForward(bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* x, float* y);
/** dx from the forward output y (softmax: y·(dy − Σdy·y); log-softmax: dy − e^y·Σdy). */
void softmaxBackward(bool logSoftmax, int64_t outer, int64_t extent, int64_t inner, const float* y, const float* dy,
                     float* dx);

/** PReLU: y = x > 0 ? x : w[c]·x with c the channel (dim 1; one weight shared when channels = 1). */
void preluForward(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* w, int64_t weights,
                  float* y);
/** dx may be null; dw (may be null) is overwritten with Σ over batch and positions. */
void preluBackward(int64_t batch, int64_t channels, int64_t inner, const float* x, const float* w, int64_t weights,
                   const float* dy, float* dx, float* dw);

/** Element-wise binary ops with NumPy broadcasting. */
enum class Binary { Add, Sub, Mul, Div };
/**
 * The output's shape and, per operand, its element strides in the output's index space (0 along
 * broadcast dimensions). `alpha` scales b for Add/Sub (torch.add(a, b, alpha=…)).
 */
struct Broadcast {
  std::vector<int64_t> shape, aStrides, bStrides;
  /** Merges adjacent dimensions both operands walk contiguously, so loops run long. */
  Broadcast coalesced() const;
};
void binaryForward(Binary op, const Broadcast& shape, float alpha, const float* a, const float* b, float* y);
/** da / db (each may be null) are overwritten with dy reduced to the operands' own element counts. */
void binaryBackward(Binary op, const Broadcast& shape, float alpha, const float* a, const float* b, const float* dy,
                    float* da, int64_t aCount, float* db, int64_t bCount);

/** y = x with its dimensions reordered: y's dimension d is x's dimension dims[d]. */
void permute(const std::vector<int64_t>& xShape, const std::vector<int64_t>& dims, const float* x, float* y);

/**
 * Local response normalization across channels of [batch, channels, inner], PyTorch's window
 * (size/2 before, (size−1)/2 after, divided by size): y = x / (k + α/size·Σ x²)^β. `scale`
 * receives k + α/size·Σ x² per element for the backward.
 */
void lrnForward(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, float k,
                const float* x, float* y, float* scale);
void lrnBackward(int64_t batch, int64_t channels, int64_t inner, int64_t size, float alpha, float beta, const float* x,
                 const float* scale, const float* dy, float* dx);

/**
 * Nearest or bilinear resizing of planes [planes, inH, inW] → [planes, outH, outW] with PyTorch's
 * source-coordinate rules; scaleH/scaleW > 0 are the user's scale_factor (PyTorch maps coordinates
 * with 1/scale_factor when given), otherwise in/out is used.
 */
struct ResizeGeometry {
  bool bilinear = false, alignCorners = false;
  int64_t planes = 1, inH = 1, inW = 1, outH = 1, outW = 1;
  double scaleH = 0.0, scaleW = 0.0;
};
void resizeForward(const ResizeGeometry& g, const float* x, float* y);
void resizeBackward(const ResizeGeometry& g, const float* dy, float* dx);

// ---- recurrent layers (recurrent.cpp) ------------------------------------------------------------
enum class RecurrentCell { Lstm, Gru };
struct RecurrentGeometry {
  RecurrentCell cell = RecurrentCell::Lstm;
  int64_t steps = 1, batch = 1, inputSize = 1, hiddenSize = 1;
  bool reverse = false;  // the backward direction of a bidirectional layer
};
/** What the forward keeps for the backward: gate values, and per step LSTM's cell or GRU's W_hn·h + b_hn. */
struct RecurrentSaved {
  std::vector<float> inputGates, gates, extra;
};
/**
 * One direction of one layer from a zero initial state; x [steps, batch, inputSize] (time-major),
 * y [steps, batch, hidden]; weights as PyTorch's weight_ih_lK and weight_hh_lK ([gates·hidden, …]);
 * biases may be null. hLast (and cLast for LSTM, may be null) receive the final state.
 */
void recurrentForward(const RecurrentGeometry& g, const float* x, const float* wih, const float* whh, const float* bih,
                      const float* bhh, float* y, float* hLast, float* cLast, RecurrentSaved& saved);
/** dy: gradient of y; dhLast/dcLast (may be null) of the final state. Every output may be null and is overwritten. */
void recurrentBackward(const RecurrentGeometry& g, const float* x, const float* wih, const float* whh, const float* y,
                       const RecurrentSaved& saved, const float* dy, const float* dhLast, const float* dcLast, float* dx,
                       float* dwih, float* dwhh, float* dbih, float* dbhh);

}  // namespace netlens::cpu
