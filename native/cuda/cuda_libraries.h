// Function tables for the GPU libraries that Netlens opens with dlopen (never links), so one add-on
// loads on machines without them. Internal to native/cuda: cuDNN types appear here, so only the CUDA
// backend's own sources include this header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>
#include <library_types.h>

#ifdef NETLENS_WITH_CUDNN
#include <cudnn.h>
#endif

#include "cuda_backend.h"

namespace netlens::cuda {

/**
 * Where one library was looked for and what came of it. `notes` lists each place tried and why it
 * did not do (missing directory, dlopen's message), so a failure explains itself.
 */
struct LoadOutcome {
  void* handle = nullptr;
  std::string loadedFrom;
  std::string failure;
  std::vector<std::string> notes;
};

/**
 * Opens the first of `sonames` found, trying in order: search.explicitPath (a file or a directory;
 * the NETLENS_*_PATH variable when search.environment is set and explicitPath is empty), the roots
 * named by CUDNN_ROOT / CUDA_HOME / CUDA_PATH (lib64, lib and the pip wheel layout `wheelSubdir`),
 * `buildDirectory` (found by CMake), then the dynamic loader's own search by soname.
 */
LoadOutcome openLibrary(const std::vector<std::string>& sonames, const std::string& pathVariable,
                        const std::string& wheelSubdir, const std::string& buildDirectory, const LibrarySearch& search);

#ifdef NETLENS_WITH_CUDNN
/** The cuDNN 9 entry points the CUDA executor uses (the legacy convolution API). */
struct CudnnApi {
  bool loaded = false;         // libcudnn.so.9 and libcudnn_graph.so.9 opened: version and handle calls work
  bool convolutions = false;   // libcudnn_ops.so.9 and libcudnn_cnn.so.9 present and every symbol bound
  std::string loadedFrom;
  std::string failure;         // why not loaded, or why convolutions are missing
  decltype(&cudnnGetVersion) getVersion = nullptr;
  decltype(&cudnnGetErrorString) getErrorString = nullptr;
  decltype(&cudnnCreate) create = nullptr;
  decltype(&cudnnDestroy) destroy = nullptr;
  decltype(&cudnnSetStream) setStream = nullptr;
  decltype(&cudnnCreateTensorDescriptor) createTensorDescriptor = nullptr;
  decltype(&cudnnSetTensor4dDescriptor) setTensor4dDescriptor = nullptr;
  decltype(&cudnnDestroyTensorDescriptor) destroyTensorDescriptor = nullptr;
  decltype(&cudnnCreateFilterDescriptor) createFilterDescriptor = nullptr;
  decltype(&cudnnSetFilter4dDescriptor) setFilter4dDescriptor = nullptr;
  decltype(&cudnnDestroyFilterDescriptor) destroyFilterDescriptor = nullptr;
  decltype(&cudnnCreateConvolutionDescriptor) createConvolutionDescriptor = nullptr;
  decltype(&cudnnSetConvolution2dDescriptor) setConvolution2dDescriptor = nullptr;
  decltype(&cudnnSetConvolutionGroupCount) setConvolutionGroupCount = nullptr;
  decltype(&cudnnSetConvolutionMathType) setConvolutionMathType = nullptr;
  decltype(&cudnnDestroyConvolutionDescriptor) destroyConvolutionDescriptor = nullptr;
  decltype(&cudnnGetConvolutionForwardAlgorithm_v7) forwardAlgorithms = nullptr;
  decltype(&cudnnGetConvolutionBackwardDataAlgorithm_v7) backwardDataAlgorithms = nullptr;
  decltype(&cudnnGetConvolutionBackwardFilterAlgorithm_v7) backwardFilterAlgorithms = nullptr;
  decltype(&cudnnGetConvolutionForwardWorkspaceSize) forwardWorkspaceSize = nullptr;
  decltype(&cudnnGetConvolutionBackwardDataWorkspaceSize) backwardDataWorkspaceSize = nullptr;
  decltype(&cudnnGetConvolutionBackwardFilterWorkspaceSize) backwardFilterWorkspaceSize = nullptr;
  decltype(&cudnnConvolutionForward) convolutionForward = nullptr;
  decltype(&cudnnConvolutionBackwardData) convolutionBackwardData = nullptr;
  decltype(&cudnnConvolutionBackwardFilter) convolutionBackwardFilter = nullptr;
  decltype(&cudnnConvolutionBackwardBias) convolutionBackwardBias = nullptr;
  decltype(&cudnnAddTensor) addTensor = nullptr;
  // Autotuning (CudaOptions::autotune): cuDNN times each algorithm on the caller's buffers. Optional:
  // without them autotuning falls back to the heuristics with a notice.
  bool findAlgorithms = false;
  decltype(&cudnnFindConvolutionForwardAlgorithmEx) findForward = nullptr;
  decltype(&cudnnFindConvolutionBackwardDataAlgorithmEx) findBackwardData = nullptr;
  decltype(&cudnnFindConvolutionBackwardFilterAlgorithmEx) findBackwardFilter = nullptr;
  // Fused convolution + bias + ReLU forward (CudaOptions::fuseEpilogues). Optional: without them
  // convolutions stay unfused, and `fusedFailure` names what is missing for the notice.
  bool fusedConvolutions = false;
  std::string fusedFailure;
  decltype(&cudnnConvolutionBiasActivationForward) convolutionBiasActivationForward = nullptr;
  decltype(&cudnnCreateActivationDescriptor) createActivationDescriptor = nullptr;
  decltype(&cudnnSetActivationDescriptor) setActivationDescriptor = nullptr;
  decltype(&cudnnDestroyActivationDescriptor) destroyActivationDescriptor = nullptr;
};

/** Loads cuDNN as `search` says (uncached; the engine uses cudnnApi()). */
CudnnApi loadCudnn(const LibrarySearch& search);
/** The process-wide cuDNN, loaded once with the default search. */
const CudnnApi& cudnnApi();
#endif

/**
 * cuBLAS entry points. NVIDIA's cuBLAS headers are not needed to build Netlens (the pip cuDNN wheel
 * and a bare nvcc have none), so the few C signatures used are declared here from the cuBLAS API
 * reference; handles are opaque pointers and enums plain ints, which is their C ABI.
 */
struct CublasApi {
  using Handle = void*;
  using Status = int;
  bool loaded = false;
  std::string loadedFrom;
  std::string ltLoadedFrom;
  std::string failure;
  Status (*create)(Handle*) = nullptr;                   // cublasCreate_v2
  Status (*destroy)(Handle) = nullptr;                   // cublasDestroy_v2
  Status (*setStream)(Handle, cudaStream_t) = nullptr;   // cublasSetStream_v2
  Status (*setMathMode)(Handle, int) = nullptr;          // cublasSetMathMode
  Status (*setWorkspace)(Handle, void*, size_t) = nullptr;  // cublasSetWorkspace_v2
  Status (*getProperty)(libraryPropertyType, int*) = nullptr;  // cublasGetProperty
  const char* (*statusString)(Status) = nullptr;         // cublasGetStatusString
  Status (*sgemm)(Handle, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*,
                  float*, int) = nullptr;                // cublasSgemm_v2
  // cublasGemmEx: A, B and C each with their own cudaDataType (bf16 operands, fp32 results), the
  // compute type a cublasComputeType_t and the algorithm a cublasGemmAlgo_t (both plain ints).
  Status (*gemmEx)(Handle, int, int, int, int, int, const void*, const void*, cudaDataType_t, int, const void*, cudaDataType_t, int,
                   const void*, void*, cudaDataType_t, int, int, int) = nullptr;
  // cublasGemmStridedBatchedEx: gemmEx over `batchCount` matrices a fixed stride (long long) apart
  // (matmul's batches; a stride of 0 repeats a broadcast operand).
  Status (*gemmStridedBatchedEx)(Handle, int, int, int, int, int, const void*, const void*, cudaDataType_t, int, long long,
                                 const void*, cudaDataType_t, int, long long, const void*, void*, cudaDataType_t, int, long long, int,
                                 int, int) = nullptr;
  size_t (*ltVersion)() = nullptr;                       // cublasLtGetVersion
  // cuBLASLt matmuls with fused epilogues (bias, bias + ReLU). Optional: when a symbol is missing
  // `ltMatmuls` is false, `ltFailure` says which, and linear layers keep cublasSgemm/GemmEx.
  using LtHandle = void*;
  using LtMatmulDesc = void*;
  using LtLayout = void*;
  using LtPreference = void*;
  /** cublasLtMatmulAlgo_t: 64 opaque bytes. */
  struct LtAlgo {
    uint64_t data[8];
  };
  /** cublasLtMatmulHeuristicResult_t. */
  struct LtHeuristic {
    LtAlgo algo;
    size_t workspaceSize;
    Status state;
    float wavesCount;
    int reserved[4];
  };
  bool ltMatmuls = false;
  std::string ltFailure;
  Status (*ltCreate)(LtHandle*) = nullptr;                                      // cublasLtCreate
  Status (*ltDestroy)(LtHandle) = nullptr;                                      // cublasLtDestroy
  Status (*ltMatmulDescCreate)(LtMatmulDesc*, int, cudaDataType_t) = nullptr;   // (desc, computeType, scaleType)
  Status (*ltMatmulDescDestroy)(LtMatmulDesc) = nullptr;
  Status (*ltMatmulDescSetAttribute)(LtMatmulDesc, int, const void*, size_t) = nullptr;
  Status (*ltMatrixLayoutCreate)(LtLayout*, cudaDataType_t, uint64_t, uint64_t, int64_t) = nullptr;  // (type, rows, cols, ld)
  Status (*ltMatrixLayoutDestroy)(LtLayout) = nullptr;
  Status (*ltPreferenceCreate)(LtPreference*) = nullptr;                        // cublasLtMatmulPreferenceCreate
  Status (*ltPreferenceDestroy)(LtPreference) = nullptr;
  Status (*ltPreferenceSetAttribute)(LtPreference, int, const void*, size_t) = nullptr;
  Status (*ltAlgoGetHeuristic)(LtHandle, LtMatmulDesc, LtLayout, LtLayout, LtLayout, LtLayout, LtPreference, int, LtHeuristic*,
                               int*) = nullptr;                                 // cublasLtMatmulAlgoGetHeuristic
  Status (*ltMatmul)(LtHandle, LtMatmulDesc, const void*, const void*, LtLayout, const void*, LtLayout, const void*, const void*,
                     LtLayout, void*, LtLayout, const LtAlgo*, void*, size_t, cudaStream_t) = nullptr;  // cublasLtMatmul
};

// cuBLAS enum values (cublas_api.h): cublasOperation_t and cublasMath_t.
constexpr int kCublasOpN = 0;
constexpr int kCublasOpT = 1;
constexpr int kCublasDefaultMath = 0;
constexpr int kCublasPedanticMath = 2;
constexpr int kCublasTf32TensorOpMath = 3;
// cublasComputeType_t CUBLAS_COMPUTE_32F (fp32 accumulation whatever the operand type) and
// cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT (cuBLAS's heuristic picks the kernel).
constexpr int kCublasCompute32F = 68;
constexpr int kCublasGemmDefault = -1;
// cublasComputeType_t CUBLAS_COMPUTE_32F_FAST_TF32: what CUBLAS_TF32_TENSOR_OP_MATH makes of an SGEMM.
constexpr int kCublasCompute32FFastTf32 = 77;
// cublasLt.h enum values: cublasLtMatmulDescAttributes_t, cublasLtEpilogue_t and
// cublasLtMatmulPreferenceAttributes_t (stable ABI values from the cuBLAS API reference).
constexpr int kLtDescTransA = 3;         // int32_t cublasOperation_t
constexpr int kLtDescTransB = 4;         // int32_t cublasOperation_t
constexpr int kLtDescEpilogue = 7;       // uint32_t cublasLtEpilogue_t
constexpr int kLtDescBiasPointer = 8;    // const void*
constexpr uint32_t kLtEpilogueRelu = 2;
constexpr uint32_t kLtEpilogueBias = 4;
constexpr uint32_t kLtEpilogueReluBias = 6;
constexpr int kLtPreferenceMaxWorkspaceBytes = 1;  // uint64_t

CublasApi loadCublas(const LibrarySearch& search);
const CublasApi& cublasApi();

}  // namespace netlens::cuda
