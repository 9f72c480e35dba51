// The CUDA executor: runs the same engine graph spec as the CPU Executor on one GPU, with every
// buffer of the training step placed by a static memory plan (one allocation, sizes known from the
// spec before the first step), cuDNN convolutions with algorithms picked once, cuBLAS for linear
// layers, Netlens's own kernels for the rest, and the whole training step captured once as a CUDA
// graph and replayed. Plain C++ face: no CUDA types leak out.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "netlens/executor.h"
#include "netlens/graph_spec.h"
#include "netlens/tensor.h"

namespace netlens::cuda {

/** A CUDA, cuDNN or cuBLAS call failed (the message names the call), or the GPU ran out of memory. */
class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CudaOptions {
  /** TF32 tensor cores in convolutions and GEMMs (10-bit mantissa products); strict fp32 when false. */
  bool tf32 = false;
  /**
   * bf16 mixed precision (like PyTorch's autocast to bfloat16): convolutions and linear layers read
   * bf16 copies of their input and weight and accumulate in fp32; parameters, gradients, optimizer
   * state and every other op stay fp32. Needs compute capability 8.0 or newer; not with tf32.
   */
  bool bf16 = false;
  /** Capture the training step once as a CUDA graph and replay it; eager launches when false. */
  bool cudaGraph = true;
  /** Largest cuDNN workspace one convolution algorithm may ask for. */
  uint64_t workspaceLimitBytes = 256ull << 20;
  /**
   * Time each distinct convolution once per direction with cuDNN's find functions and keep the
   * fastest algorithm within workspaceLimitBytes, instead of taking the heuristics' first. Timings are
   * cached per shape in memory for the process and in a JSON file (autotuneCache). Off: heuristics.
   */
  bool autotune = false;
  /**
   * The autotuning cache file: empty for $NETLENS_CUDNN_AUTOTUNE_CACHE, else
   * $XDG_CACHE_HOME/netlens/cudnn-autotune.json (~/.cache when unset); "none" keeps it in memory only.
   */
  std::string autotuneCache;
  /**
   * Linear layers with a bias, and a Linear followed by a ReLU that nothing else reads, run as one
   * cuBLASLt matmul with the bias (and the ReLU) in its epilogue; a conv2d with a bias followed by a
   * ReLU that nothing else reads runs as one cudnnConvolutionBiasActivationForward (fp32 and tf32;
   * not in bf16 mode). The environment variable NETLENS_CUDA_FUSE=0 turns it off too; without
   * cuBLASLt's matmul symbols (or cuDNN's fused forward) that part is off with a notice.
   */
  bool fuseEpilogues = true;
  /**
   * Channels-last (NHWC) activations where cuDNN's tensor-core convolutions want them: conv2d runs on
   * NHWC tensors with [K, R, S, C] filters, and batch norm, pooling, activations, dropout and add keep
   * 4-D values NHWC between them. Every other op, graph inputs, the loss, value() and inputGradient()
   * see NCHW: layout-change steps are planned where the two meet (layoutChanges()). Conv filters, their
   * gradients and optimizer state are stored [K, R, S, C] on the device; state(), setState(),
   * gradient() and the optimizer-state calls convert, so the API stays NCHW / [K, C, R, S].
   */
  bool channelsLast = false;
};

/** One convolution direction's algorithm, and where the choice came from. */
struct AlgorithmChoice {
  std::string node;
  std::string direction;  // "forward", "backward-data", "backward-filter"
  int algorithm = 0;      // the cuDNN enum value
  uint64_t workspaceBytes = 0;
  std::string source;     // "heuristic", "timed" (autotuned now), "cache" (an earlier timing)
  double milliseconds = 0.0;  // cuDNN's timing (timed, cache); 0 for the heuristic
};

/**
 * A layer with a fused epilogue: a linear layer run as one cuBLASLt matmul, or a convolution with its
 * bias and ReLU in cuDNN's fused forward (cudnnConvolutionBiasActivationForward).
 */
struct EpilogueChoice {
  std::string node;
  std::string epilogue;    // "bias", "relu_bias", "relu"
  std::string activation;  // the ReLU node computed by the epilogue, or empty
  bool active = false;     // false: planned but the library could not run it (see note); the unfused path runs
  std::string note;
  std::string library;     // "cublasLt" (linear) or "cudnn" (conv2d)
};

/** The static memory plan, in bytes. */
struct MemoryPlan {
  uint64_t parameters = 0;  // parameters and buffers
  uint64_t gradients = 0;   // parameter gradients
  uint64_t optimizerState = 0;
  uint64_t activations = 0;          // graph inputs and node outputs
  uint64_t activationGradients = 0;  // their gradients
  uint64_t workspace = 0;            // cuDNN (the largest algorithm's) and cuBLAS workspaces
  uint64_t other = 0;                // pooling indices, batch-norm statistics, dropout masks, loss scratch,
                                     // lstm/gru saved gates, layer outputs and step scratch
  uint64_t bf16Copies = 0;           // bf16 mode: conv/linear weight and input copies, cast scratch
  uint64_t total = 0;
  std::string describe() const;
};

class CudaExecutor {
 public:
  /**
   * What of `spec` the CUDA executor cannot run (an op, naming its node; the loss; the optimizer),
   * or empty. Needs no GPU, so a session can refuse a model before any device work.
   */
  static std::string unsupportedReason(const GraphSpec& spec);

  /**
   * Checks the spec as the CPU Executor does (same SpecErrors), refuses ops the GPU path lacks
   * (SpecError naming the node and op), initializes parameters exactly as Executor(spec, seed) does,
   * plans and allocates all device memory (CudaError with the numbers when it does not fit) and
   * picks the convolution algorithms. The batch size is the spec's.
   */
  CudaExecutor(GraphSpec spec, uint64_t seed = 0, CudaOptions options = {});
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor&) = delete;
  CudaExecutor& operator=(const CudaExecutor&) = delete;

  const GraphSpec& spec() const;
  const MemoryPlan& plan() const;
  /**
   * Each convolution's chosen algorithms, workspace and source (heuristic, timed, cache), one line a
   * node; then the fused linear layers, the autotuning summary and any notices (a cache file ignored).
   */
  std::string describeAlgorithms() const;
  std::vector<AlgorithmChoice> algorithmChoices() const;
  std::vector<EpilogueChoice> epilogues() const;
  /** Channels-last mode: the planned NCHW ⇄ NHWC copies, one line each ("<value> (as NHWC)"); empty otherwise. */
  std::vector<std::string> layoutChanges() const;
  /** What construction noticed without failing: an autotuning cache ignored or not written, no cuBLASLt. */
  const std::vector<std::string>& notices() const;
  const std::vector<std::string>& stateNames() const;
  Tensor state(const std::string& name) const;
  void setState(const std::string& name, const Tensor& value);
  /** A parameter (not a buffer) that is not frozen. */
  bool isTrainable(const std::string& name) const;
  void setTraining(bool training);
  /** The input shapes the memory plan was made for (the batch size is fixed). */
  Shape inputShape(const std::string& inputName) const;

  /** Runs every node (eager launches). */
  void forward(const TensorMap& inputs);
  /**
   * A node's output after forward. A Linear whose ReLU is fused into its epilogue keeps no
   * pre-activation: asking for it throws (fuseEpilogues = false keeps it); graph outputs are never fused.
   */
  Tensor value(const std::string& id) const;
  /** forward, loss and backward from the loss; returns the loss. */
  double lossBackward(const TensorMap& inputs, bool inputGradients = true);
  Tensor gradient(const std::string& stateName) const;
  Tensor inputGradient(const std::string& inputName) const;
  /**
   * forward, loss, backward and one optimizer step; returns the loss before the step. Captured as a
   * CUDA graph on the first call (options.cudaGraph) and replayed after. A NaN or infinite loss
   * throws std::runtime_error and leaves the parameters as they were.
   */
  double trainStep(const TensorMap& inputs);
  /**
   * trainStep in parts, so the host prepares the next batch while the GPU runs this one:
   * stageInputs checks a batch and copies it into a pinned staging slot (allowed while a step is in
   * flight: there are two slots and it writes the one the running step does not read); launchStep()
   * enqueues the staged batch's copy to the device and the step (eager, captured or replayed)
   * without waiting; finishStep waits and returns the loss (throwing for a NaN or infinite one as
   * trainStep does). launchStep(inputs) is stageInputs then launchStep(). Between a launch and its
   * finish only stageInputs may be called.
   */
  void stageInputs(const TensorMap& inputs);
  void launchStep();
  void launchStep(const TensorMap& inputs);
  double finishStep();
  bool stepInFlight() const;
  int64_t lastStepCorrect() const;
  /** The rate the next step will use (the spec's schedule at stepsTaken()). */
  double learningRate() const;
  /** The optimizer state in the CPU Optimizer::exportState() form ("<parameter>.<slot>", "<parameter>.step"). */
  std::vector<std::pair<std::string, Tensor>> exportOptimizerState() const;
  /** Restores exportOptimizerState() output (checked as the CPU optimizer checks it) and the step count. */
  void setOptimizerState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps);
  bool graphCaptured() const;
  int64_t stepsTaken() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netlens::cuda
