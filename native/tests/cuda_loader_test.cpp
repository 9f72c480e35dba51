// Loading cuDNN and cuBLAS with dlopen (native/cuda/cuda_libraries.cpp): a bogus configured path
// explains itself, the libraries in NVIDIA's pip wheel folders (and in the directories given as
// arguments) load and report the versions their own headers state, and the engine's default
// search finds what NETLENS_EXPECT_CUDNN=1 says must be there. Needs no GPU.
//
// Usage: cuda_loader_test [cudnn-lib-dir]...
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda_backend.h"
#include "test_support.h"

using namespace netlens;
using namespace netlens::test;

namespace {

bool exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0;
}

std::string run(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  return output;
}

// The folder of an installed NVIDIA pip package (nvidia.cudnn, nvidia.cublas), or "".
std::string wheelFolder(const std::string& module) {
  return run("python3 -c \"import importlib.util as u; s = u.find_spec('" + module +
             "'); print(list(s.submodule_search_locations)[0] if s else '')\" 2>/dev/null");
}

// "major.minor.patch" from a cuDNN include folder's cudnn_version.h, or "".
std::string headerVersion(const std::string& includeDir) {
  const std::string file = includeDir + "/cudnn_version.h";
  if (!exists(file)) return "";
  const std::string text = readFile(file);
  const auto number = [&](const std::string& name) -> std::string {
    const auto at = text.find("#define " + name + " ");
    if (at == std::string::npos) return "?";
    return std::to_string(std::atoi(text.c_str() + at + name.size() + 9));
  };
  return number("CUDNN_MAJOR") + "." + number("CUDNN_MINOR") + "." + number("CUDNN_PATCHLEVEL");
}

cuda::LibrarySearch only(const std::string& path) {
  cuda::LibrarySearch search;
  search.explicitPath = path;
  search.environment = false;
  search.buildDirectory = false;
  search.defaultSearch = false;
  return search;
}

void checkCudnnFolder(const std::string& libDir) {
  if (!exists(libDir + "/libcudnn.so.9")) {
    std::printf("skipped: no libcudnn.so.9 in %s\n", libDir.c_str());
    return;
  }
  const cuda::CudnnReport report = cuda::probeCudnnWith(only(libDir), false);
  std::printf("cuDNN from %s: %s\n", libDir.c_str(), report.status.c_str());
  check(report.compiled, "cuDNN probe compiled in");
  check(report.available, "cuDNN in " + libDir + " loads: " + report.status);
  check(report.version.rfind("9.", 0) == 0, "cuDNN in " + libDir + " reports a 9.x version, got \"" + report.version + "\"");
  check(report.status.find(libDir) != std::string::npos, "the status names where cuDNN was loaded from");
  const std::string expected = headerVersion(libDir + "/../include");
  if (!expected.empty()) {
    check(report.version == expected, "cuDNN in " + libDir + " reports " + report.version + ", its cudnn_version.h says " + expected);
  }
  // The same library named as a file rather than a folder.
  const cuda::CudnnReport byFile = cuda::probeCudnnWith(only(libDir + "/libcudnn.so.9"), false);
  check(byFile.available && byFile.version == report.version, "cuDNN loads when the configured path is the file itself");
  // Convolutions need libcudnn_ops and libcudnn_cnn beside it; a folder without them says so.
  const bool complete = exists(libDir + "/libcudnn_cnn.so.9") && exists(libDir + "/libcudnn_ops.so.9");
  check(report.convolutions == complete, "cuDNN convolutions are reported " + std::string(complete ? "present" : "missing") + " for " + libDir);
  if (!complete) check(report.status.find("no convolutions") != std::string::npos, "a cuDNN without libcudnn_cnn says so: " + report.status);
}

void checkCublasFolder(const std::string& libDir) {
  const bool has13 = exists(libDir + "/libcublas.so.13"), has12 = exists(libDir + "/libcublas.so.12");
  if (!has13 && !has12) {
    std::printf("skipped: no libcublas.so.13/.12 in %s\n", libDir.c_str());
    return;
  }
  const cuda::CublasReport report = cuda::probeCublasWith(only(libDir), false);
  std::printf("cuBLAS from %s: %s\n", libDir.c_str(), report.status.c_str());
  check(report.available, "cuBLAS in " + libDir + " loads: " + report.status);
  const std::string major = has13 ? "13." : "12.";
  check(report.version.rfind(major, 0) == 0, "cuBLAS version " + report.version + " matches its soname (" + major + "x)");
  check(report.ltVersion.rfind(major, 0) == 0, "cuBLASLt version " + report.ltVersion + " matches its soname (" + major + "x)");
}

}  // namespace

int main(int argc, char** argv) {
  // A configured path that does not exist: not found, and the message says why.
  const cuda::CudnnReport bogusCudnn = cuda::probeCudnnWith(only("/nonexistent/netlens-cudnn"), false);
  std::printf("bogus cuDNN path: %s\n", bogusCudnn.status.c_str());
  check(bogusCudnn.compiled, "cuDNN probe compiled in (this test is built with cuDNN headers)");
  check(!bogusCudnn.available, "a bogus cuDNN path loads nothing");
  check(bogusCudnn.status.find("libcudnn.so.9 not found") != std::string::npos, "bogus cuDNN: \"not found\" in " + bogusCudnn.status);
  check(bogusCudnn.status.find("/nonexistent/netlens-cudnn: does not exist") != std::string::npos,
        "bogus cuDNN: the path and why in " + bogusCudnn.status);
  const cuda::CublasReport bogusCublas = cuda::probeCublasWith(only("/nonexistent/netlens-cublas"), false);
  std::printf("bogus cuBLAS path: %s\n", bogusCublas.status.c_str());
  check(!bogusCublas.available, "a bogus cuBLAS path loads nothing");
  check(bogusCublas.status.find("libcublasLt.so.13 not found") != std::string::npos &&
            bogusCublas.status.find("/nonexistent/netlens-cublas: does not exist") != std::string::npos,
        "bogus cuBLAS: not found, with the path, in " + bogusCublas.status);
  // A folder that exists but lacks the library.
  const cuda::CudnnReport emptyFolder = cuda::probeCudnnWith(only("/"), false);
  check(!emptyFolder.available && emptyFolder.status.find("no libcudnn.so.9") != std::string::npos,
        "a folder without cuDNN: " + emptyFolder.status);

  // The variables name the first place tried; CUDNN_ROOT-style roots come next.
  {
    cuda::LibrarySearch environmentOnly;
    environmentOnly.buildDirectory = false;
    environmentOnly.defaultSearch = false;
    setenv("NETLENS_CUDNN_PATH", "/nonexistent/env-cudnn", 1);
    setenv("NETLENS_CUBLAS_PATH", "/nonexistent/env-cublas", 1);
    const cuda::CudnnReport fromVariable = cuda::probeCudnnWith(environmentOnly, false);
    const cuda::CublasReport cublasFromVariable = cuda::probeCublasWith(environmentOnly, false);
    check(fromVariable.status.find("NETLENS_CUDNN_PATH=/nonexistent/env-cudnn: does not exist") != std::string::npos,
          "NETLENS_CUDNN_PATH is tried and named: " + fromVariable.status);
    check(cublasFromVariable.status.find("NETLENS_CUBLAS_PATH=/nonexistent/env-cublas: does not exist") != std::string::npos,
          "NETLENS_CUBLAS_PATH is tried and named: " + cublasFromVariable.status);
    if (argc > 1 && exists(std::string(argv[1]) + "/libcudnn.so.9")) {
      setenv("NETLENS_CUDNN_PATH", argv[1], 1);
      const cuda::CudnnReport found = cuda::probeCudnnWith(environmentOnly, false);
      check(found.available && found.status.find(argv[1]) != std::string::npos, "NETLENS_CUDNN_PATH finds cuDNN: " + found.status);
    }
    unsetenv("NETLENS_CUDNN_PATH");
    unsetenv("NETLENS_CUBLAS_PATH");
  }

  std::vector<std::string> cudnnFolders;
  for (int i = 1; i < argc; ++i) cudnnFolders.push_back(argv[i]);
  const std::string cudnnWheel = wheelFolder("nvidia.cudnn");
  if (!cudnnWheel.empty()) cudnnFolders.push_back(cudnnWheel + "/lib");
  if (cudnnFolders.empty()) std::printf("skipped: no cuDNN wheel folder (python3 -c 'import nvidia.cudnn' fails) and none given\n");
  for (const std::string& folder : cudnnFolders) checkCudnnFolder(folder);

  std::vector<std::string> cublasFolders;
  const std::string cublasWheel = wheelFolder("nvidia.cublas");
  if (!cublasWheel.empty()) cublasFolders.push_back(cublasWheel + "/lib");
  const std::string cu13Wheel = wheelFolder("nvidia.cu13");
  if (!cu13Wheel.empty()) cublasFolders.push_back(cu13Wheel + "/lib");
  for (const char* variable : {"CUDA_HOME", "CUDA_PATH"}) {
    const char* root = std::getenv(variable);
    if (root != nullptr && *root != '\0') cublasFolders.push_back(std::string(root) + "/lib64");
  }
  cublasFolders.push_back("/usr/local/cuda/lib64");
  for (const std::string& folder : cublasFolders) checkCublasFolder(folder);

  // The engine's own search (environment, build-time folders, ld.so).
  const cuda::DeviceReport device = cuda::queryDevices();
  const cuda::CudnnReport cudnn = cuda::probeCudnn(device.gpuPresent);
  const cuda::CublasReport cublas = cuda::probeCublas(device.gpuPresent);
  std::printf("engine search: %s\nengine search: %s\n", cudnn.status.c_str(), cublas.status.c_str());
  check(!cudnn.status.empty() && !cublas.status.empty(), "the engine's probes explain themselves");
  const char* expectCudnn = std::getenv("NETLENS_EXPECT_CUDNN");
  if (expectCudnn != nullptr && std::string(expectCudnn) == "1") {
    check(cudnn.available && cudnn.convolutions, "NETLENS_EXPECT_CUDNN=1: cuDNN with convolutions loads: " + cudnn.status);
    check(cublas.available, "NETLENS_EXPECT_CUDNN=1: cuBLAS loads too: " + cublas.status);
  }
  return finish("cuda_loader_test");
}
