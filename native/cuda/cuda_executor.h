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
  /** Capture the training step once as a CUDA graph and replay it; eager launches when false. */
  bool cudaGraph = true;
  /** Largest cuDNN workspace one convolution algorithm may ask for. */
  uint64_t workspaceLimitBytes = 256ull << 20;
};

/** The static memory plan, in bytes. */
struct MemoryPlan {
  uint64_t parameters = 0;  // parameters and buffers
  uint64_t gradients = 0;   // parameter gradients
  uint64_t optimizerState = 0;
  uint64_t activations = 0;          // graph inputs and node outputs
  uint64_t activationGradients = 0;  // their gradients
  uint64_t workspace = 0;            // cuDNN (the largest algorithm's) and cuBLAS workspaces
  uint64_t other = 0;                // pooling indices, batch-norm statistics, dropout masks, loss scratch
  uint64_t total = 0;
  std::string describe() const;
};

/**
 * Whether this process can run the CUDA executor: a GPU, cuDNN with its convolution libraries and
 * cuBLAS. When not, `reason` says what is missing.
 */
bool cudaExecutorAvailable(std::string* reason);

class CudaExecutor {
 public:
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

  const MemoryPlan& plan() const;
  /** Each convolution's chosen algorithms and workspace, one line a node. */
  std::string describeAlgorithms() const;
  const std::vector<std::string>& stateNames() const;
  Tensor state(const std::string& name) const;
  void setState(const std::string& name, const Tensor& value);
  void setTraining(bool training);

  /** Runs every node (eager launches). */
  void forward(const TensorMap& inputs);
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
  int64_t lastStepCorrect() const;
  bool graphCaptured() const;
  int64_t stepsTaken() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace netlens::cuda
