// The engine's op set: one class per op, built from a node of the graph spec. An op declares its
// parameters (roles, shapes, PyTorch's default initialization), infers its output shape, and runs
// forward and backward on the CPU kernels. Internal to the core; the executor is the API.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netlens/graph_spec.h"
#include "netlens/tensor.h"

namespace netlens {

enum class Init {
  KaimingUniform,  // kaiming_uniform_(a=√5): U(−1/√fan_in, 1/√fan_in)
  FanInUniform,    // biases: U(−1/√fan_in, 1/√fan_in)
  Ones,
  Zeros,
  Constant,  // every element `constant` (PReLU's 0.25)
  Normal,    // N(0, 1) (Embedding)
};

struct ParamDecl {
  std::string role;
  Shape shape;
  Init init = Init::Zeros;
  int64_t fanIn = 1;
  bool buffer = false;  // running statistics: saved in the state_dict, never trained
  float constant = 0.0f;
  int64_t zeroRow = -1;  // a row of a 2-D tensor left at zero (Embedding's padding_idx)
};

struct OpContext {
  bool training = true;
  Rng* rng = nullptr;
};

class Op {
 public:
  virtual ~Op() = default;
  virtual std::vector<ParamDecl> params() const { return {}; }
  /** How many inputs the op takes (−1: at least one). */
  virtual int arity() const { return 1; }
  /** Which inputs receive a gradient (default: all). */
  virtual bool differentiable(size_t input) const {
    (void)input;
    return true;
  }
  /** Output shape for these input shapes; throws SpecError naming the mismatch. */
  virtual Shape outputShape(const std::vector<Shape>& inputs) const = 0;
  /** `out` has the output shape but stale contents (reused between steps): write every element. */
  virtual void forward(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& params, Tensor& out,
                       OpContext& context) = 0;
  /**
   * gradInputs[i] (null when not wanted) is overwritten with the gradient for input i; gradParams[j]
   * (null for frozen parameters and buffers) is overwritten with the gradient of parameter j.
   */
  virtual void backward(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& params,
                        const Tensor& out, const Tensor& gradOut, const std::vector<Tensor*>& gradInputs,
                        const std::vector<Tensor*>& gradParams, OpContext& context) = 0;
  /** Ops that read another node's state (max_unpool2d reads its max_pool2d's indices) bind here. */
  virtual void bindProducers(const std::vector<Op*>& producers) { (void)producers; }
};

/** Builds the op of `node` from its attrs; throws SpecError "node "id" (op): …". */
std::unique_ptr<Op> createOp(const NodeSpec& node);

}  // namespace netlens
