// GPU training-step time of the CUDA executor: median over timed steps (after a warm-up) of
// trainStep() — host staging of the batch, the step (CUDA graph replay or eager launches), and the
// loss read back — for the models scripts/gpu/bench_torch.py times in PyTorch on the same card:
//   cifar: the CIFAR CNN of engine_bench (conv 32,32,pool,64,64,pool, fc-512, fc-10)
//   seed:  issue 7's seed net, [conv-relu-conv-relu-pool]×3 with widths 64/128/256, fc-512×2, fc-10
//   resnet8: a ResNet-18-style stem + 3 basic blocks with batch norm on 32×32 (residual adds)
//   lenet5:  LeNet-5 on 1×28×28 (conv 6 padded, avg-pool, conv 16, avg-pool, fc 120, 84, 10), batch 256
//   resnet18: torchvision's ResNet-18 on 3×224×224, 1000 classes, batch 128
// (lenet5 and resnet18 run at issue 7's batch sizes only; the others at each batch given.)
// SGD with momentum 0.9, cross-entropy, synthetic data; strict fp32, TF32 and bf16 mixed precision;
// graph and eager (linear layers with fused cuBLASLt epilogues and conv + bias + ReLU in cuDNN's fused
// forward in fp32/tf32, the default), and for the seed net and LeNet-5 "graph-unfused"
// (CudaOptions::fuseEpilogues off) to show what the fusion gives.
// With --autotune it times instead, as mode "graph+autotune", the seed net and LeNet-5 at batch 256 in
// the three precisions and ResNet-18 in bf16 with cuDNN autotuning on (the cache file is
// NETLENS_CUDNN_AUTOTUNE_CACHE or the default; setup_ms includes the tuning of shapes not cached yet).
// Mode "graph+channels-last" (CudaOptions::channelsLast: NHWC activations, [K, R, S, C] filters) times
// the rows where NHWC should pay off on tensor cores: the seed net at batch 256 in tf32 and bf16, and
// ResNet-18 in bf16 (beside their "graph" rows, same card, same run).
// Prints one JSON object a line. Not a test.
//
// Usage: cuda_bench [--autotune] [batch...]   (default: 64 256)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda_executor.h"

using namespace netlens;

namespace {

std::string node(const std::string& id, const std::string& op, const std::vector<std::string>& inputs, const std::string& attrs) {
  std::string list;
  for (const std::string& input : inputs) list += (list.empty() ? "\"" : ",\"") + input + "\"";
  return "{\"id\":\"" + id + "\",\"op\":\"" + op + "\",\"inputs\":[" + list + "],\"attrs\":" + attrs + "}";
}

std::string conv(const std::string& id, const std::string& input, int in, int out, int stride = 1, bool bias = true) {
  return node(id, "conv2d", {input}, "{\"in_channels\":" + std::to_string(in) + ",\"out_channels\":" + std::to_string(out) +
                                         ",\"kernel_size\":3,\"padding\":1,\"stride\":" + std::to_string(stride) +
                                         ",\"bias\":" + (bias ? "true" : "false") + "}");
}

std::string linear(const std::string& id, const std::string& input, int in, int out) {
  return node(id, "linear", {input}, "{\"in_features\":" + std::to_string(in) + ",\"out_features\":" + std::to_string(out) + "}");
}

struct Model {
  std::vector<std::string> nodes;
  std::string last;
  double forwardMacs = 0.0;  // per image
  int64_t channels = 3, size = 32;  // the input image
  int64_t fixedBatch = 0;           // issue 7's batch for this model; 0: the batches given
};

Model cifar() {
  Model m;
  m.nodes = {conv("c1", "x", 3, 32), node("r1", "relu", {"c1"}, "{}"), conv("c2", "r1", 32, 32), node("r2", "relu", {"c2"}, "{}"),
             node("p1", "max_pool2d", {"r2"}, "{\"kernel_size\":2}"), conv("c3", "p1", 32, 64), node("r3", "relu", {"c3"}, "{}"),
             conv("c4", "r3", 64, 64), node("r4", "relu", {"c4"}, "{}"), node("p2", "max_pool2d", {"r4"}, "{\"kernel_size\":2}"),
             node("f", "flatten", {"p2"}, "{}"), linear("fc1", "f", 4096, 512), node("r5", "relu", {"fc1"}, "{}"),
             linear("fc2", "r5", 512, 10)};
  m.last = "fc2";
  m.forwardMacs = 32.0 * 32 * 32 * 3 * 9 + 32.0 * 32 * 32 * 32 * 9 + 16.0 * 16 * 64 * 32 * 9 + 16.0 * 16 * 64 * 64 * 9 + 4096.0 * 512 + 512.0 * 10;
  return m;
}

Model seed() {
  Model m;
  std::string last = "x";
  int channels = 3, size = 32;
  for (const int width : {64, 128, 256}) {
    const std::string w = std::to_string(width);
    m.nodes.push_back(conv("a" + w, last, channels, width));
    m.nodes.push_back(node("ra" + w, "relu", {"a" + w}, "{}"));
    m.nodes.push_back(conv("b" + w, "ra" + w, width, width));
    m.nodes.push_back(node("rb" + w, "relu", {"b" + w}, "{}"));
    m.nodes.push_back(node("p" + w, "max_pool2d", {"rb" + w}, "{\"kernel_size\":2}"));
    m.forwardMacs += static_cast<double>(size) * size * 9.0 * (channels * width + width * width);
    last = "p" + w;
    channels = width;
    size /= 2;
  }
  m.nodes.push_back(node("f", "flatten", {last}, "{}"));
  m.nodes.push_back(linear("fc1", "f", 256 * 16, 512));
  m.nodes.push_back(node("r1", "relu", {"fc1"}, "{}"));
  m.nodes.push_back(linear("fc2", "r1", 512, 512));
  m.nodes.push_back(node("r2", "relu", {"fc2"}, "{}"));
  m.nodes.push_back(linear("fc3", "r2", 512, 10));
  m.forwardMacs += 4096.0 * 512 + 512.0 * 512 + 512.0 * 10;
  m.last = "fc3";
  return m;
}

Model resnet8() {
  Model m;
  const auto bn = [](const std::string& id, const std::string& input, int channels) {
    return node(id, "batch_norm2d", {input}, "{\"num_features\":" + std::to_string(channels) + "}");
  };
  m.nodes = {conv("stem", "x", 3, 64, 1, false), bn("stem_bn", "stem", 64), node("stem_r", "relu", {"stem_bn"}, "{}")};
  std::string last = "stem_r";
  m.forwardMacs = 32.0 * 32 * 27 * 64;
  for (int block = 0; block < 3; ++block) {
    const std::string b = "b" + std::to_string(block);
    m.nodes.push_back(conv(b + "c1", last, 64, 64, 1, false));
    m.nodes.push_back(bn(b + "n1", b + "c1", 64));
    m.nodes.push_back(node(b + "r1", "relu", {b + "n1"}, "{}"));
    m.nodes.push_back(conv(b + "c2", b + "r1", 64, 64, 1, false));
    m.nodes.push_back(bn(b + "n2", b + "c2", 64));
    m.nodes.push_back(node(b + "s", "add", {b + "n2", last}, "{}"));
    m.nodes.push_back(node(b + "r2", "relu", {b + "s"}, "{}"));
    m.forwardMacs += 2.0 * 32 * 32 * 9 * 64 * 64;
    last = b + "r2";
  }
  m.nodes.push_back(node("pool", "adaptive_avg_pool2d", {last}, "{\"output_size\":1}"));
  m.nodes.push_back(node("f", "flatten", {"pool"}, "{}"));
  m.nodes.push_back(linear("fc", "f", 64, 10));
  m.last = "fc";
  return m;
}

Model lenet5() {
  Model m;
  m.channels = 1;
  m.size = 28;
  m.fixedBatch = 256;
  m.nodes = {node("c1", "conv2d", {"x"}, "{\"in_channels\":1,\"out_channels\":6,\"kernel_size\":5,\"padding\":2}"),
             node("r1", "relu", {"c1"}, "{}"), node("p1", "avg_pool2d", {"r1"}, "{\"kernel_size\":2}"),
             node("c2", "conv2d", {"p1"}, "{\"in_channels\":6,\"out_channels\":16,\"kernel_size\":5}"),
             node("r2", "relu", {"c2"}, "{}"), node("p2", "avg_pool2d", {"r2"}, "{\"kernel_size\":2}"),
             node("f", "flatten", {"p2"}, "{}"), linear("fc1", "f", 400, 120), node("r3", "relu", {"fc1"}, "{}"),
             linear("fc2", "r3", 120, 84), node("r4", "relu", {"fc2"}, "{}"), linear("fc3", "r4", 84, 10)};
  m.forwardMacs = 28.0 * 28 * 6 * 25 + 10.0 * 10 * 16 * 6 * 25 + 400.0 * 120 + 120.0 * 84 + 84.0 * 10;
  m.last = "fc3";
  return m;
}

// torchvision.models.resnet18(): 7×7/2 stem, 3×3/2 max pool, four stages of two basic blocks
// (64, 128, 256, 512; the first block of stages 2-4 strides 2 with a 1×1/2 conv + BN shortcut).
Model resnet18() {
  Model m;
  m.size = 224;
  m.fixedBatch = 128;
  const auto bn = [](const std::string& id, const std::string& input, int channels) {
    return node(id, "batch_norm2d", {input}, "{\"num_features\":" + std::to_string(channels) + "}");
  };
  const auto convk = [&](const std::string& id, const std::string& input, int in, int out, int kernel, int stride, int padding,
                         int64_t outSize) {
    m.forwardMacs += static_cast<double>(outSize) * outSize * out * in * kernel * kernel;
    return node(id, "conv2d", {input}, "{\"in_channels\":" + std::to_string(in) + ",\"out_channels\":" + std::to_string(out) +
                                           ",\"kernel_size\":" + std::to_string(kernel) + ",\"stride\":" + std::to_string(stride) +
                                           ",\"padding\":" + std::to_string(padding) + ",\"bias\":false}");
  };
  m.nodes = {convk("conv1", "x", 3, 64, 7, 2, 3, 112), bn("bn1", "conv1", 64), node("relu", "relu", {"bn1"}, "{}"),
             node("maxpool", "max_pool2d", {"relu"}, "{\"kernel_size\":3,\"stride\":2,\"padding\":1}")};
  std::string last = "maxpool";
  int channels = 64;
  int64_t size = 56;
  for (const int width : {64, 128, 256, 512}) {
    for (int block = 0; block < 2; ++block) {
      const int stride = block == 0 && width != 64 ? 2 : 1;
      const int64_t out = size / stride;
      const std::string b = "layer" + std::to_string(width) + "_" + std::to_string(block);
      m.nodes.push_back(convk(b + "c1", last, channels, width, 3, stride, 1, out));
      m.nodes.push_back(bn(b + "n1", b + "c1", width));
      m.nodes.push_back(node(b + "r1", "relu", {b + "n1"}, "{}"));
      m.nodes.push_back(convk(b + "c2", b + "r1", width, width, 3, 1, 1, out));
      m.nodes.push_back(bn(b + "n2", b + "c2", width));
      std::string shortcut = last;
      if (stride != 1 || channels != width) {
        m.nodes.push_back(convk(b + "d", last, channels, width, 1, stride, 0, out));
        m.nodes.push_back(bn(b + "dn", b + "d", width));
        shortcut = b + "dn";
      }
      m.nodes.push_back(node(b + "s", "add", {b + "n2", shortcut}, "{}"));
      m.nodes.push_back(node(b + "r2", "relu", {b + "s"}, "{}"));
      last = b + "r2";
      channels = width;
      size = out;
    }
  }
  m.nodes.push_back(node("avgpool", "adaptive_avg_pool2d", {last}, "{\"output_size\":1}"));
  m.nodes.push_back(node("f", "flatten", {"avgpool"}, "{}"));
  m.nodes.push_back(linear("fc", "f", 512, 1000));
  m.forwardMacs += 512.0 * 1000;
  m.last = "fc";
  return m;
}

// An error message as a JSON string body (cuDNN and spec messages quote names).
std::string jsonEscaped(const std::string& text) {
  std::string escaped;
  for (const char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return escaped;
}

GraphSpec specFor(const Model& model, int64_t batch) {
  std::string list;
  for (const std::string& n : model.nodes) list += (list.empty() ? "" : ",") + n;
  const std::string b = std::to_string(batch);
  const std::string image = std::to_string(model.channels) + "," + std::to_string(model.size) + "," + std::to_string(model.size);
  return parseGraphSpec("{\"inputs\":[{\"name\":\"x\",\"shape\":[" + b + "," + image + "]},{\"name\":\"y\",\"shape\":[" + b +
                        "],\"dtype\":\"int64\"}],\"nodes\":[" + list + "],\"outputs\":[\"" + model.last +
                        "\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"" + model.last +
                        "\",\"target\":\"y\"},\"optimizer\":{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}}");
}

}  // namespace

namespace {

/** One timed configuration. */
struct Run {
  std::string model;
  const Model* spec = nullptr;
  int64_t batch = 0;
  std::string precision;
  std::string mode;  // "graph", "eager", "graph-unfused", "graph+autotune", "graph+channels-last"
  bool graph = true;
  bool fuse = true;
  bool autotune = false;
  bool channelsLast = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string reason;
  if (!cuda::cudaExecutorAvailable(&reason)) {
    std::printf("{\"skipped\":\"%s\"}\n", jsonEscaped(reason).c_str());
    return 0;
  }
  bool autotuneRows = false;
  std::vector<int64_t> batches;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--autotune") autotuneRows = true;
    else batches.push_back(std::atoll(argv[i]));
  }
  if (batches.empty()) batches = {64, 256};
  const std::vector<std::pair<std::string, Model>> models{
      {"cifar", cifar()}, {"seed", seed()}, {"resnet8", resnet8()}, {"lenet5", lenet5()}, {"resnet18", resnet18()}};
  std::vector<Run> runs;
  for (const auto& [name, model] : models) {
    const std::vector<int64_t> modelBatches = model.fixedBatch > 0 ? std::vector<int64_t>{model.fixedBatch} : batches;
    for (const int64_t batch : modelBatches) {
      for (const std::string precision : {"fp32", "tf32", "bf16"}) {
        if (autotuneRows) {
          // Issue 7's goal rows: the seed net and LeNet-5 at batch 256, ResNet-18 in bf16.
          const bool wanted = ((name == "seed" || name == "lenet5") && batch == 256) || (name == "resnet18" && precision == "bf16");
          if (wanted) runs.push_back({name, &model, batch, precision, "graph+autotune", true, true, true});
          continue;
        }
        runs.push_back({name, &model, batch, precision, "graph", true, true, false});
        runs.push_back({name, &model, batch, precision, "eager", false, true, false});
        if (name == "seed" || name == "lenet5") runs.push_back({name, &model, batch, precision, "graph-unfused", true, false, false});
        const bool nhwcRow = (name == "seed" && batch == 256 && precision != "fp32") || (name == "resnet18" && precision == "bf16");
        if (nhwcRow) runs.push_back({name, &model, batch, precision, "graph+channels-last", true, true, false, true});
      }
    }
  }
  constexpr int kWarmup = 5;
  constexpr int kSteps = 30;
  int failures = 0;
  for (const Run& run : runs) {
    const long long batch = static_cast<long long>(run.batch);
    try {
      cuda::CudaOptions options;
      options.tf32 = run.precision == "tf32";
      options.bf16 = run.precision == "bf16";
      options.cudaGraph = run.graph;
      options.fuseEpilogues = run.fuse;
      options.autotune = run.autotune;
      options.channelsLast = run.channelsLast;
      const Model& model = *run.spec;
      const auto setupStart = std::chrono::steady_clock::now();
      cuda::CudaExecutor executor(specFor(model, run.batch), 0, options);
      const double setupMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - setupStart).count();
      int timedDirections = 0, cachedDirections = 0;
      for (const cuda::AlgorithmChoice& choice : executor.algorithmChoices()) {
        timedDirections += choice.source == "timed" ? 1 : 0;
        cachedDirections += choice.source == "cache" ? 1 : 0;
      }
      int fused = 0, fusedConvs = 0;
      for (const cuda::EpilogueChoice& choice : executor.epilogues()) {
        if (!choice.active) continue;
        (choice.library == "cudnn" ? fusedConvs : fused) += 1;
      }
      Rng rng(1);
      Tensor x({run.batch, model.channels, model.size, model.size});
      for (float& value : x.data) value = rng.uniform(-1.0f, 1.0f);
      Tensor y({run.batch});
      for (float& value : y.data) value = static_cast<float>(rng.next() % 10);
      const TensorMap inputs{{"x", x}, {"y", y}};
      for (int i = 0; i < kWarmup; ++i) executor.trainStep(inputs);
      std::vector<double> times;
      double loss = 0.0;
      // The binding's pipeline: the next batch is staged into pinned memory while the step runs (as
      // PyTorch's side keeps its batch pinned), so a step's time is from one finish to the next.
      executor.launchStep(inputs);
      auto previous = std::chrono::steady_clock::now();
      for (int i = 0; i < kSteps; ++i) {
        if (i + 1 < kSteps) executor.stageInputs(inputs);
        loss = executor.finishStep();
        if (i + 1 < kSteps) executor.launchStep();
        const auto now = std::chrono::steady_clock::now();
        times.push_back(std::chrono::duration<double, std::milli>(now - previous).count());
        previous = now;
      }
      std::sort(times.begin(), times.end());
      const double median = times[times.size() / 2];
      const double tflops = 3.0 * 2.0 * model.forwardMacs * static_cast<double>(run.batch) / (median * 1e9);
      std::printf("{\"engine\":\"netlens\",\"model\":\"%s\",\"batch\":%lld,\"precision\":\"%s\",\"mode\":\"%s\",\"step_ms_median\":%.3f,"
                  "\"step_ms_min\":%.3f,\"images_per_s\":%.1f,\"tflops\":%.2f,\"plan_bytes\":%llu,\"last_loss\":%.4f,"
                  "\"setup_ms\":%.1f,\"fused_linears\":%d,\"autotune\":%s,\"timed_directions\":%d,\"cached_directions\":%d,"
                  "\"channels_last\":%s,\"layout_changes\":%zu,\"fused_convs\":%d}\n",
                  run.model.c_str(), batch, run.precision.c_str(), run.mode.c_str(), median, times.front(),
                  1000.0 * static_cast<double>(run.batch) / median, tflops, static_cast<unsigned long long>(executor.plan().total), loss,
                  setupMs, fused, run.autotune ? "true" : "false", timedDirections, cachedDirections, run.channelsLast ? "true" : "false",
                  executor.layoutChanges().size(), fusedConvs);
      for (const std::string& notice : executor.notices()) {
        std::fprintf(stderr, "%s batch %lld %s %s: %s\n", run.model.c_str(), batch, run.precision.c_str(), run.mode.c_str(), notice.c_str());
      }
      std::fflush(stdout);
    } catch (const std::exception& error) {
      ++failures;
      std::printf("{\"engine\":\"netlens\",\"model\":\"%s\",\"batch\":%lld,\"precision\":\"%s\",\"mode\":\"%s\",\"error\":\"%s\"}\n",
                  run.model.c_str(), batch, run.precision.c_str(), run.mode.c_str(), jsonEscaped(error.what()).c_str());
      std::fflush(stdout);
    }
  }
  return failures == 0 ? 0 : 1;
}
