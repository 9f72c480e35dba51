#include "netlens/executor.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels.h"
#include "ops.h"

namespace netlens {
namespace {

// Dropout masks come from a stream separate from initialization, so adding a dropout node does not
// change the initial weights of the others.
constexpr uint64_t kDropoutStream = 0x9E3779B97F4A7C15ull;

void initialize(Tensor& tensor, const ParamDecl& decl, Rng& rng) {
  switch (decl.init) {
    case Init::KaimingUniform:
    case Init::FanInUniform: {
      // kaiming_uniform_(a=√5) has bound gain·√(3/fan_in) with gain = √(2/(1+5)), i.e. 1/√fan_in,
      // the same bound PyTorch gives the bias.
      const float bound = decl.fanIn > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(decl.fanIn))) : 0.0f;
      for (float& value : tensor.data) value = rng.uniform(-bound, bound);
      break;
    }
    case Init::Ones: tensor.fill(1.0f); break;
    case Init::Zeros: tensor.fill(0.0f); break;
    case Init::Constant: tensor.fill(decl.constant); break;
    case Init::Normal:
      // Box–Muller on the engine's own uniform stream (std::normal_distribution differs between libraries).
      for (size_t i = 0; i < tensor.data.size(); i += 2) {
        const double radius = std::sqrt(-2.0 * std::log(1.0 - static_cast<double>(rng.uniform01())));
        const double angle = 6.283185307179586 * static_cast<double>(rng.uniform01());
        tensor.data[i] = static_cast<float>(radius * std::cos(angle));
        if (i + 1 < tensor.data.size()) tensor.data[i + 1] = static_cast<float>(radius * std::sin(angle));
      }
      break;
  }
  if (decl.zeroRow >= 0 && decl.shape.size() == 2) {
    std::fill(tensor.data.begin() + decl.zeroRow * decl.shape[1], tensor.data.begin() + (decl.zeroRow + 1) * decl.shape[1], 0.0f);
  }
}

// Adds a gradient contribution; a second contribution's buffer goes back to the scratch pool.
void accumulate(std::map<std::string, Tensor>& into, const std::string& key, Tensor&& gradient,
                std::map<std::string, Tensor>& scratch, const std::string& scratchKey) {
  auto found = into.find(key);
  if (found == into.end()) {
    into.emplace(key, std::move(gradient));
    return;
  }
  float* target = found->second.ptr();
  const float* source = gradient.ptr();
  for (int64_t i = 0; i < gradient.numel(); ++i) target[i] += source[i];
  scratch[scratchKey] = std::move(gradient);
}

// Ties go to the lowest class index, as torch.argmax does.
int64_t countCorrect(const Tensor& logits, const Tensor& labels) {
  const int64_t rows = logits.shape[0];
  const int64_t classes = logits.shape[1];
  const float* scores = logits.ptr();
  const float* targets = labels.ptr();
  int64_t correct = 0;
  for (int64_t row = 0; row < rows; ++row) {
    const float* rowScores = scores + row * classes;
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (rowScores[c] > rowScores[best]) best = c;
    }
    if (best == static_cast<int64_t>(targets[row])) ++correct;
  }
  return correct;
}

}  // namespace

Executor::Executor(GraphSpec spec, uint64_t seed) : spec_(std::move(spec)), rng_(seed ^ kDropoutStream) {
  std::map<std::string, Op*> producers;
  std::map<std::string, Shape> shapes;
  for (const InputSpec& input : spec_.inputs) shapes[input.name] = input.shape;
  Rng initRng(seed);

  for (const NodeSpec& node : spec_.nodes) {
    std::unique_ptr<Op> op = createOp(node);
    const std::string prefix = "node \"" + node.id + "\" (" + node.op + "): ";
    const int arity = op->arity();
    if ((arity >= 0 && node.inputs.size() != static_cast<size_t>(arity)) || node.inputs.empty()) {
      throw SpecError(prefix + "takes " + (arity >= 0 ? std::to_string(arity) : std::string("one or more")) +
                      " input(s), got " + std::to_string(node.inputs.size()));
    }
    std::vector<Op*> inputOps;
    std::vector<Shape> inputShapes;
    for (const std::string& name : node.inputs) {
      const auto found = producers.find(name);
      inputOps.push_back(found == producers.end() ? nullptr : found->second);
      inputShapes.push_back(shapes.at(name));
    }
    op->bindProducers(inputOps);
    shapes[node.id] = op->outputShape(inputShapes);

    const std::vector<ParamDecl> decls = op->params();
    for (const auto& [role, key] : node.params) {
      bool declared = false;
      for (const ParamDecl& decl : decls) declared = declared || decl.role == role;
      if (!declared) throw SpecError(prefix + "has no parameter or buffer \"" + role + "\" (for " + key + ")");
    }
    std::vector<std::string> names;
    for (const ParamDecl& decl : decls) {
      std::string key = node.id + "." + decl.role;
      for (const auto& [role, name] : node.params) {
        if (role == decl.role) key = name;
      }
      const auto existing = state_.find(key);
      if (existing != state_.end()) {
        // The same key on two nodes ties them (one tensor, gradients summed), as shared modules do.
        if (existing->second.shape != decl.shape || buffer_[key] != decl.buffer) {
          throw SpecError(prefix + "\"" + key + "\" is already a " + formatShape(existing->second.shape) +
                          " tensor of another node; a " + formatShape(decl.shape) + " " + decl.role + " is needed");
        }
      } else {
        Tensor tensor(decl.shape);
        if (decl.shape.empty()) tensor.data.assign(1, 0.0f);
        initialize(tensor, decl, initRng);
        state_.emplace(key, std::move(tensor));
        buffer_[key] = decl.buffer;
        stateNames_.push_back(key);
      }
      names.push_back(key);
    }
    nodeStateNames_.push_back(std::move(names));
    producers[node.id] = op.get();
    ops_.push_back(std::move(op));
  }

  if (spec_.loss && spec_.loss->op == "cross_entropy") {
    const Shape& logits = shapes.at(spec_.loss->input);
    if (logits.size() != 2) {
      throw SpecError("loss: cross_entropy expects logits of shape (N, classes), got " + formatShape(logits));
    }
  }
  if (spec_.optimizer) {
    for (const std::string& name : spec_.optimizer->frozen) {
      bool matches = false;
      for (const std::string& key : stateNames_) matches = matches || isFrozenName({name}, key);
      if (!matches) throw SpecError("optimizer: frozen \"" + name + "\" names no parameter");
    }
    optimizer_ = std::make_unique<Optimizer>(*spec_.optimizer);
  }
}

Executor::~Executor() = default;

Tensor& Executor::state(const std::string& name) {
  const auto found = state_.find(name);
  if (found == state_.end()) throw std::out_of_range("no parameter or buffer named \"" + name + "\"");
  return found->second;
}

const Tensor& Executor::state(const std::string& name) const {
  const auto found = state_.find(name);
  if (found == state_.end()) throw std::out_of_range("no parameter or buffer named \"" + name + "\"");
  return found->second;
}

bool Executor::isBuffer(const std::string& name) const {
  const auto found = buffer_.find(name);
  return found != buffer_.end() && found->second;
}

bool Executor::isTrainable(const std::string& name) const {
  if (!hasState(name) || isBuffer(name)) return false;
  return !(spec_.optimizer && isFrozenName(spec_.optimizer->frozen, name));
}

void Executor::setState(const std::string& name, const Tensor& value) {
  Tensor& target = state(name);
  if (target.numel() != value.numel() || (target.shape != value.shape && !value.shape.empty() && !target.shape.empty())) {
    throw std::invalid_argument("\"" + name + "\" is " + formatShape(target.shape) + ", got " + formatShape(value.shape));
  }
  target.data = value.data;
}

void Executor::reseed(uint64_t seed) { rng_.reseed(seed ^ kDropoutStream); }

void Executor::forward(const TensorMap& inputs) {
  forwardDone_ = false;
  for (const InputSpec& input : spec_.inputs) {
    const auto found = inputs.find(input.name);
    if (found == inputs.end()) {
      // A loss target is only needed by the loss; everything else is needed by some node.
      if (spec_.loss && spec_.loss->target == input.name) continue;
      throw std::invalid_argument("input \"" + input.name + "\" is missing");
    }
    const Shape& shape = found->second.shape;
    bool matches = shape.size() == input.shape.size() && found->second.numel() == shapeNumel(shape);
    for (size_t d = 1; matches && d < shape.size(); ++d) matches = shape[d] == input.shape[d];
    if (!matches) {
      throw std::invalid_argument("input \"" + input.name + "\" is " + formatShape(shape) + ", the graph expects " +
                                  formatShape(input.shape) + " (any batch size)");
    }
    values_[input.name] = found->second;
  }
  // A loss target left out of this call must not be taken from an earlier one.
  if (spec_.loss && inputs.count(spec_.loss->target) == 0) values_.erase(spec_.loss->target);
  OpContext context{training_, &rng_};
  for (size_t n = 0; n < ops_.size(); ++n) {
    const NodeSpec& node = spec_.nodes[n];
    std::vector<const Tensor*> in;
    std::vector<Shape> inShapes;
    for (const std::string& name : node.inputs) {
      const Tensor& value = values_.at(name);
      in.push_back(&value);
      inShapes.push_back(value.shape);
    }
    std::vector<Tensor*> params;
    for (const std::string& key : nodeStateNames_[n]) params.push_back(&state_.at(key));
    // Every op overwrites its whole output, so the previous step's buffer is reused when the shape
    // is unchanged (no allocation, page faults or zero-fill per step).
    Tensor& out = values_[node.id];
    Shape shape = ops_[n]->outputShape(inShapes);
    if (out.shape != shape || out.numel() != shapeNumel(shape)) out = Tensor(std::move(shape));
    ops_[n]->forward(in, params, out, context);
  }
  forwardDone_ = true;
}

const Tensor& Executor::value(const std::string& id) const {
  const auto found = values_.find(id);
  if (found == values_.end()) throw std::out_of_range("no value for \"" + id + "\" (run forward first)");
  return found->second;
}

Tensor Executor::takeScratch(const std::string& key, const Shape& shape) {
  const auto found = scratch_.find(key);
  if (found != scratch_.end() && found->second.shape == shape && found->second.numel() == shapeNumel(shape)) {
    Tensor reused = std::move(found->second);
    scratch_.erase(found);
    return reused;
  }
  return Tensor(shape);
}

void Executor::backward(const TensorMap& seedGradients, bool inputGradients) {
  if (!forwardDone_) throw std::logic_error("backward needs a forward pass first");
  std::map<std::string, Tensor> valueGradients;
  for (const auto& [id, gradient] : seedGradients) {
    const Tensor& forwardValue = value(id);
    if (gradient.shape != forwardValue.shape) {
      throw std::invalid_argument("gradient for \"" + id + "\" is " + formatShape(gradient.shape) + ", the value is " +
                                  formatShape(forwardValue.shape));
    }
    valueGradients[id] = gradient;
  }
  // Last step's gradient buffers are reused (ops overwrite every element of the gradients they
  // produce), so a training step allocates and zero-fills nothing once shapes are steady.
  for (auto& [key, tensor] : gradients_) scratch_["p:" + key] = std::move(tensor);
  for (auto& [name, tensor] : inputGradients_) scratch_["v:" + name] = std::move(tensor);
  gradients_.clear();
  inputGradients_.clear();
  OpContext context{training_, &rng_};
  for (size_t n = ops_.size(); n-- > 0;) {
    const NodeSpec& node = spec_.nodes[n];
    const auto seed = valueGradients.find(node.id);
    if (seed == valueGradients.end()) continue;
    Tensor gradOut = std::move(seed->second);
    valueGradients.erase(seed);

    std::vector<const Tensor*> in;
    std::vector<Tensor> inGrads(node.inputs.size());
    std::vector<Tensor*> inGradPtrs(node.inputs.size(), nullptr);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      in.push_back(&values_.at(name));
      const InputSpec* graphInput = spec_.findInput(name);
      const bool wanted = ops_[n]->differentiable(i) &&
                          (graphInput == nullptr ? true : inputGradients && graphInput->dtype == "float32");
      if (wanted) {
        inGrads[i] = takeScratch("v:" + name, values_.at(name).shape);
        inGradPtrs[i] = &inGrads[i];
      }
    }
    std::vector<Tensor*> params;
    std::vector<Tensor> paramGrads(nodeStateNames_[n].size());
    std::vector<Tensor*> paramGradPtrs(nodeStateNames_[n].size(), nullptr);
    for (size_t j = 0; j < nodeStateNames_[n].size(); ++j) {
      const std::string& key = nodeStateNames_[n][j];
      params.push_back(&state_.at(key));
      if (isTrainable(key)) {
        paramGrads[j] = takeScratch("p:" + key, state_.at(key).shape);
        paramGradPtrs[j] = &paramGrads[j];
      }
    }
    ops_[n]->backward(in, params, values_.at(node.id), gradOut, inGradPtrs, paramGradPtrs, context);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (inGradPtrs[i]) accumulate(valueGradients, node.inputs[i], std::move(inGrads[i]), scratch_, "v:" + node.inputs[i]);
    }
    for (size_t j = 0; j < nodeStateNames_[n].size(); ++j) {
      if (paramGradPtrs[j]) {
        accumulate(gradients_, nodeStateNames_[n][j], std::move(paramGrads[j]), scratch_, "p:" + nodeStateNames_[n][j]);
      }
    }
    scratch_["v:" + node.id] = std::move(gradOut);
  }
  // Parameters the seeds do not reach get a zero gradient.
  for (const std::string& key : stateNames_) {
    if (isTrainable(key) && gradients_.count(key) == 0) gradients_[key] = Tensor(state_.at(key).shape);
  }
  for (const InputSpec& input : spec_.inputs) {
    if (!inputGradients || input.dtype != "float32" || values_.count(input.name) == 0) continue;
    const auto found = valueGradients.find(input.name);
    inputGradients_[input.name] = found != valueGradients.end() ? std::move(found->second) : Tensor(values_.at(input.name).shape);
  }
}

const Tensor& Executor::gradient(const std::string& stateName) const {
  const auto found = gradients_.find(stateName);
  if (found == gradients_.end()) {
    throw std::out_of_range("no gradient for \"" + stateName + "\" (not a trainable parameter, or no backward yet)");
  }
  return found->second;
}

const Tensor& Executor::inputGradient(const std::string& inputName) const {
  const auto found = inputGradients_.find(inputName);
  if (found == inputGradients_.end()) throw std::out_of_range("no gradient for input \"" + inputName + "\"");
  return found->second;
}

const Tensor& Executor::lossGradient(double& loss) {
  if (!spec_.loss) throw std::logic_error("the graph spec has no loss");
  const LossSpec& spec = *spec_.loss;
  const Tensor& prediction = value(spec.input);
  const auto target = values_.find(spec.target);
  if (target == values_.end()) throw std::invalid_argument("loss target \"" + spec.target + "\" is missing");
  lossGradient_ = Tensor(prediction.shape);
  Tensor& gradient = lossGradient_;
  if (spec.op == "cross_entropy") {
    const int64_t rows = prediction.shape[0];
    if (target->second.numel() != rows) {
      throw std::invalid_argument("loss target \"" + spec.target + "\" has " + std::to_string(target->second.numel()) +
                                  " labels for " + std::to_string(rows) + " predictions");
    }
    loss = cpu::softmaxCrossEntropy(rows, prediction.shape[1], prediction.ptr(), target->second.ptr(),
                                    spec.labelSmoothing, gradient.ptr());
  } else {
    if (target->second.numel() != prediction.numel()) {
      throw std::invalid_argument("loss target \"" + spec.target + "\" is " + formatShape(target->second.shape) +
                                  ", the prediction is " + formatShape(prediction.shape));
    }
    loss = cpu::meanSquaredError(prediction.numel(), prediction.ptr(), target->second.ptr(), gradient.ptr());
  }
  return gradient;
}

double Executor::evaluateLoss(const TensorMap& inputs) {
  forward(inputs);
  double loss = 0.0;
  lossGradient(loss);
  return loss;
}

double Executor::lossBackward(const TensorMap& inputs) {
  forward(inputs);
  double loss = 0.0;
  const Tensor& gradient = lossGradient(loss);
  backward({{spec_.loss->input, gradient}});
  return loss;
}

double Executor::trainStep(const TensorMap& inputs) {
  if (!optimizer_) throw std::logic_error("the graph spec has no optimizer");
  forward(inputs);
  double loss = 0.0;
  const Tensor& gradient = lossGradient(loss);
  if (!std::isfinite(loss)) {
    throw std::runtime_error("training loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
                             std::to_string(optimizer_->stepsTaken() + 1) + "; the parameters were not updated");
  }
  lastStepCorrect_ = spec_.loss->op == "cross_entropy" ? countCorrect(value(spec_.loss->input), values_.at(spec_.loss->target)) : -1;
  backward({{spec_.loss->input, gradient}}, false);
  std::vector<ParameterUpdate> updates;
  for (const std::string& key : stateNames_) {
    if (isTrainable(key)) updates.push_back({&key, &state_.at(key), &gradients_.at(key)});
  }
  optimizer_->step(updates);
  return loss;
}

const Optimizer& Executor::optimizer() const {
  if (!optimizer_) throw std::logic_error("the graph spec has no optimizer");
  return *optimizer_;
}

void Executor::setOptimizerState(const std::vector<std::pair<std::string, Tensor>>& tensors, int64_t steps) {
  if (!optimizer_) throw std::logic_error("the graph spec has no optimizer");
  std::map<std::string, Shape> shapes;
  for (const std::string& key : stateNames_) {
    if (isTrainable(key)) shapes[key] = state_.at(key).shape;
  }
  optimizer_->importState(tensors, steps, shapes);
}

}  // namespace netlens
