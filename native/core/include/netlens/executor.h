// Runs an engine graph spec on the CPU: owns the parameters and buffers (named by state_dict keys,
// initialized as PyTorch initializes them by default), the forward values, the gradients and the
// optimizer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netlens/graph_spec.h"
#include "netlens/optimizer.h"
#include "netlens/tensor.h"

namespace netlens {

class Op;
using TensorMap = std::map<std::string, Tensor>;

class Executor {
 public:
  /** Builds every node (throws SpecError naming the node) and initializes parameters from `seed`. */
  explicit Executor(GraphSpec spec, uint64_t seed = 0);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const GraphSpec& spec() const { return spec_; }

  /** Parameters and buffers in state_dict order (node order, then each op's role order). */
  const std::vector<std::string>& stateNames() const { return stateNames_; }
  bool hasState(const std::string& name) const { return state_.count(name) != 0; }
  Tensor& state(const std::string& name);
  const Tensor& state(const std::string& name) const;
  bool isBuffer(const std::string& name) const;
  /** A parameter (not a buffer) that is not frozen. */
  bool isTrainable(const std::string& name) const;
  /** Replaces a parameter or buffer; the shape must match. */
  void setState(const std::string& name, const Tensor& value);

  void setTraining(bool training) { training_ = training; }
  bool training() const { return training_; }
  /** Restarts the generator dropout draws its masks from. */
  void reseed(uint64_t seed);

  /** Runs every node. Inputs are checked against the spec's ranks; the batch size may differ. */
  void forward(const TensorMap& inputs);
  /** The value of a node or a graph input after forward(). */
  const Tensor& value(const std::string& id) const;
  /**
   * Back-propagates from gradients of node values (usually the outputs; absent ones are zero).
   * Fills gradient(name) for trainable parameters and, unless `inputGradients` is false (training
   * needs none, and skipping the first layer's input gradient saves work), inputGradient(name) for
   * float inputs.
   */
  void backward(const TensorMap& seedGradients, bool inputGradients = true);
  const Tensor& gradient(const std::string& stateName) const;
  const Tensor& inputGradient(const std::string& inputName) const;

  /** forward() then the spec's loss (no backward). */
  double evaluateLoss(const TensorMap& inputs);
  /** forward, loss and backward from the loss (gradients as after backward()); returns the loss. */
  double lossBackward(const TensorMap& inputs);
  /**
   * forward, loss, backward and one optimizer step; returns the loss before the step. A NaN or
   * infinite loss throws std::runtime_error before anything is updated.
   */
  double trainStep(const TensorMap& inputs);
  /**
   * Rows of the last trainStep() whose highest class score (cross_entropy logits, before the
   * update) is the label; -1 when the loss is not cross_entropy. Train accuracy comes from the
   * steps themselves this way, with no extra pass over the data.
   */
  int64_t lastStepCorrect() const { return lastStepCorrect_; }
  const Optimizer& optimizer() const;
  /** Restores Optimizer::exportState() output, checked against this model's trainable parameters. */
  void setOptimizerState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps);

 private:
  const Tensor& lossGradient(double& loss);
  /** A buffer of `shape` from the previous backward's storage (contents stale), or a new one. */
  Tensor takeScratch(const std::string& key, const Shape& shape);

  GraphSpec spec_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<std::vector<std::string>> nodeStateNames_;  // per node, in the op's role order
  std::vector<std::string> stateNames_;
  std::map<std::string, Tensor> state_;
  std::map<std::string, bool> buffer_;
  std::map<std::string, Tensor> values_;
  std::map<std::string, Tensor> gradients_;
  std::map<std::string, Tensor> inputGradients_;
  Tensor lossGradient_;
  std::map<std::string, Tensor> scratch_;  // "v:<value>" / "p:<state key>" → reusable gradient storage
  std::unique_ptr<Optimizer> optimizer_;
  Rng rng_;
  bool training_ = true;
  bool forwardDone_ = false;
  int64_t lastStepCorrect_ = -1;
};

}  // namespace netlens
