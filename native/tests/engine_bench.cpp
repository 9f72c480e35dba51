// Training-step time of the CPU engine on the CIFAR CNN of issue 6 (conv3x3-32, relu, conv3x3-32,
// relu, maxpool2, conv3x3-64, relu, conv3x3-64, relu, maxpool2, fc-512, relu, fc-10; padding 1),
// SGD with momentum, cross-entropy, synthetic data. Not a test: prints the median step time and
// the achieved GFLOP/s (forward + backward ≈ 3× the forward MACs × 2 FLOPs).
//
// Also LeNet-5 (conv5-6, relu, avgpool2, conv5-16, relu, avgpool2, fc-120, relu, fc-84, relu, fc-10).
//
// Usage: engine_bench [batch=64] [steps=20] [threads=hardware] [model=cifar|lenet5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "cpu_info.h"
#include "kernels.h"
#include "netlens/executor.h"

using namespace netlens;

namespace {

std::string conv(const std::string& id, const std::string& input, int in, int out, int kernel = 3, int padding = 1) {
  return "{\"id\":\"" + id + "\",\"op\":\"conv2d\",\"inputs\":[\"" + input + "\"],\"attrs\":{\"in_channels\":" +
         std::to_string(in) + ",\"out_channels\":" + std::to_string(out) + ",\"kernel_size\":" + std::to_string(kernel) +
         ",\"padding\":" + std::to_string(padding) + "}},";
}
std::string unary(const std::string& id, const std::string& op, const std::string& input, const std::string& attrs = "{}") {
  return "{\"id\":\"" + id + "\",\"op\":\"" + op + "\",\"inputs\":[\"" + input + "\"],\"attrs\":" + attrs + "},";
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 64;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  if (argc > 3) cpu::setThreadCount(std::atoi(argv[3]));
  const std::string model = argc > 4 ? argv[4] : "cifar";
  if (model != "cifar" && model != "lenet5") {
    std::fprintf(stderr, "engine_bench: model must be cifar or lenet5, not %s\n", model.c_str());
    return 2;
  }
  const bool lenet = model == "lenet5";
  const std::string b = std::to_string(batch);
  std::string nodes = lenet ? "[" + conv("c1", "x", 1, 6, 5, 0) + unary("r1", "relu", "c1") +
                                  unary("p1", "avg_pool2d", "r1", "{\"kernel_size\":2,\"stride\":2}") + conv("c2", "p1", 6, 16, 5, 0) +
                                  unary("r2", "relu", "c2") + unary("p2", "avg_pool2d", "r2", "{\"kernel_size\":2,\"stride\":2}") +
                                  unary("f", "flatten", "p2") + unary("fc1", "linear", "f", "{\"in_features\":400,\"out_features\":120}") +
                                  unary("r3", "relu", "fc1") + unary("fc2", "linear", "r3", "{\"in_features\":120,\"out_features\":84}") +
                                  unary("r4", "relu", "fc2") +
                                  "{\"id\":\"fc3\",\"op\":\"linear\",\"inputs\":[\"r4\"],\"attrs\":{\"in_features\":84,\"out_features\":10}}]"
                            : "[" + conv("c1", "x", 3, 32) + unary("r1", "relu", "c1") + conv("c2", "r1", 32, 32) +
                      unary("r2", "relu", "c2") + unary("p1", "max_pool2d", "r2", "{\"kernel_size\":2}") +
                      conv("c3", "p1", 32, 64) + unary("r3", "relu", "c3") + conv("c4", "r3", 64, 64) +
                      unary("r4", "relu", "c4") + unary("p2", "max_pool2d", "r4", "{\"kernel_size\":2}") +
                      unary("f", "flatten", "p2") +
                      unary("fc1", "linear", "f", "{\"in_features\":4096,\"out_features\":512}") + unary("r5", "relu", "fc1") +
                      "{\"id\":\"fc2\",\"op\":\"linear\",\"inputs\":[\"r5\"],\"attrs\":{\"in_features\":512,\"out_features\":10}}]";
  const std::string last = lenet ? "fc3" : "fc2";
  const int64_t channels = lenet ? 1 : 3;
  const std::string spec = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + b + "," + std::to_string(channels) +
                           ",32,32]},{\"name\":\"y\",\"shape\":[" + b + "],\"dtype\":\"int64\"}],\"nodes\":" + nodes +
                           ",\"outputs\":[\"" + last + "\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"" + last +
                           "\",\"target\":\"y\"},"
                           "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}}";
  Executor executor(parseGraphSpec(spec), 0);
  Rng rng(1);
  Tensor x({batch, channels, 32, 32});
  for (float& value : x.data) value = rng.uniform(-1.0f, 1.0f);
  Tensor y({batch});
  for (float& value : y.data) value = static_cast<float>(rng.next() % 10);

  for (int i = 0; i < 3; ++i) executor.trainStep({{"x", x}, {"y", y}});
  std::vector<double> times, cpuTimes;
  double loss = 0.0;
  // Process CPU time as well as wall time: on a shared machine the wall time mostly measures the
  // neighbours, while CPU time per step (all our threads) stays close to the work done.
  const auto processCpuMs = [] {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e3 + static_cast<double>(now.tv_nsec) / 1e6;
  };
  for (int i = 0; i < steps; ++i) {
    const double cpuStart = processCpuMs();
    const auto start = std::chrono::steady_clock::now();
    loss = executor.trainStep({{"x", x}, {"y", y}});
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    cpuTimes.push_back(processCpuMs() - cpuStart);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpuTimes.begin(), cpuTimes.end());
  const double median = times[times.size() / 2];
  // Forward MACs per image: conv layers + fully connected layers.
  const double macs = lenet ? 28.0 * 28 * 6 * 25 + 10.0 * 10 * 16 * 6 * 25 + 400.0 * 120 + 120.0 * 84 + 84.0 * 10
                            : 32.0 * 32 * 32 * 3 * 9 + 32.0 * 32 * 32 * 32 * 9 + 16.0 * 16 * 64 * 32 * 9 + 16.0 * 16 * 64 * 64 * 9 +
                                  4096.0 * 512 + 512.0 * 10;
  const double gflops = 3.0 * 2.0 * macs * static_cast<double>(batch) / (median * 1e6);
  std::printf("{\"model\":\"%s\",\"device\":\"cpu\",\"threads\":%d,\"batch\":%lld,\"steps\":%d,\"step_ms_median\":%.2f,\"step_ms_min\":%.2f,\"cpu_ms_median\":%.2f,"
              "\"images_per_s\":%.1f,\"gflops\":%.2f,\"last_loss\":%.4f,\"cpu_kernels\":\"%s\"}\n",
              model.c_str(), cpu::threadCount(), static_cast<long long>(batch), steps, median, times.front(), cpuTimes[cpuTimes.size() / 2],
              1000.0 * static_cast<double>(batch) / median, gflops, loss, cpu::cpuKernelsDescription().c_str());
  return 0;
}
