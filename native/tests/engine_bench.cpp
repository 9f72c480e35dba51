// Training-step time of the CPU engine on the CIFAR CNN of issue 6 (conv3x3-32, relu, conv3x3-32,
// relu, maxpool2, conv3x3-64, relu, conv3x3-64, relu, maxpool2, fc-512, relu, fc-10; padding 1),
// SGD with momentum, cross-entropy, synthetic data. Not a test: prints the median step time and
// the achieved GFLOP/s (forward + backward ≈ 3× the forward MACs × 2 FLOPs).
//
// Usage: engine_bench [batch=64] [steps=20] [threads=hardware]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kernels.h"
#include "netlens/executor.h"

using namespace netlens;

namespace {

std::string conv(const std::string& id, const std::string& input, int in, int out) {
  return "{\"id\":\"" + id + "\",\"op\":\"conv2d\",\"inputs\":[\"" + input + "\"],\"attrs\":{\"in_channels\":" +
         std::to_string(in) + ",\"out_channels\":" + std::to_string(out) + ",\"kernel_size\":3,\"padding\":1}},";
}
std::string unary(const std::string& id, const std::string& op, const std::string& input, const std::string& attrs = "{}") {
  return "{\"id\":\"" + id + "\",\"op\":\"" + op + "\",\"inputs\":[\"" + input + "\"],\"attrs\":" + attrs + "},";
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 64;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  if (argc > 3) cpu::setThreadCount(std::atoi(argv[3]));
  const std::string b = std::to_string(batch);
  std::string nodes = "[" + conv("c1", "x", 3, 32) + unary("r1", "relu", "c1") + conv("c2", "r1", 32, 32) +
                      unary("r2", "relu", "c2") + unary("p1", "max_pool2d", "r2", "{\"kernel_size\":2}") +
                      conv("c3", "p1", 32, 64) + unary("r3", "relu", "c3") + conv("c4", "r3", 64, 64) +
                      unary("r4", "relu", "c4") + unary("p2", "max_pool2d", "r4", "{\"kernel_size\":2}") +
                      unary("f", "flatten", "p2") +
                      unary("fc1", "linear", "f", "{\"in_features\":4096,\"out_features\":512}") + unary("r5", "relu", "fc1") +
                      "{\"id\":\"fc2\",\"op\":\"linear\",\"inputs\":[\"r5\"],\"attrs\":{\"in_features\":512,\"out_features\":10}}]";
  const std::string spec = "{\"inputs\":[{\"name\":\"x\",\"shape\":[" + b + ",3,32,32]},{\"name\":\"y\",\"shape\":[" + b +
                           "],\"dtype\":\"int64\"}],\"nodes\":" + nodes +
                           ",\"outputs\":[\"fc2\"],\"loss\":{\"op\":\"cross_entropy\",\"input\":\"fc2\",\"target\":\"y\"},"
                           "\"optimizer\":{\"type\":\"sgd\",\"lr\":0.01,\"momentum\":0.9}}";
  Executor executor(parseGraphSpec(spec), 0);
  Rng rng(1);
  Tensor x({batch, 3, 32, 32});
  for (float& value : x.data) value = rng.uniform(-1.0f, 1.0f);
  Tensor y({batch});
  for (float& value : y.data) value = static_cast<float>(rng.next() % 10);

  for (int i = 0; i < 3; ++i) executor.trainStep({{"x", x}, {"y", y}});
  std::vector<double> times;
  double loss = 0.0;
  for (int i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    loss = executor.trainStep({{"x", x}, {"y", y}});
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  // Forward MACs per image: conv layers + fully connected layers.
  const double macs = 32.0 * 32 * 32 * 3 * 9 + 32.0 * 32 * 32 * 32 * 9 + 16.0 * 16 * 64 * 32 * 9 + 16.0 * 16 * 64 * 64 * 9 +
                      4096.0 * 512 + 512.0 * 10;
  const double gflops = 3.0 * 2.0 * macs * static_cast<double>(batch) / (median * 1e6);
  std::printf("{\"device\":\"cpu\",\"threads\":%d,\"batch\":%lld,\"steps\":%d,\"step_ms_median\":%.2f,\"step_ms_min\":%.2f,"
              "\"images_per_s\":%.1f,\"gflops\":%.2f,\"last_loss\":%.4f}\n",
              cpu::threadCount(), static_cast<long long>(batch), steps, median, times.front(),
              1000.0 * static_cast<double>(batch) / median, gflops, loss);
  return 0;
}
