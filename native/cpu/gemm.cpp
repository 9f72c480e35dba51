// Blocked single-precision GEMM in the classic shape: B is packed block by block (KC × NC) into
// 16-column panels laid out k-major, so the micro-kernel streams one panel from L1 while a tile of
// up to 6 rows × 16 columns of C stays in registers for the whole block depth. Packing reads B
// either way round, so op(B) = Bᵀ costs nothing extra. A is read in place through strides.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "cpu_info.h"
#include "kernels.h"

namespace netlens::cpu {
namespace {

constexpr int64_t kBlockK = 256;  // a 16-column panel of the block: 256 × 16 floats = 16 KiB (L1)
constexpr int64_t kBlockN = 256;  // the packed block: 256 × 256 floats = 256 KiB (L2)
constexpr int64_t kPanel = 16;    // columns per micro-kernel tile (two 8-float vectors)
constexpr int kTileRows = 6;      // 6 × 2 accumulators + 2 panel vectors + 1 broadcast ≤ 16 registers

#define NETLENS_ALWAYS_INLINE inline __attribute__((always_inline))

// GCC/Clang vector extensions: 256-bit registers when compiled for AVX2, two 128-bit ones otherwise.
typedef float Vec8 __attribute__((vector_size(32)));

// By reference: passing 32-byte vectors by value has a target-dependent ABI.
NETLENS_ALWAYS_INLINE void loadVec(Vec8& v, const float* p) { std::memcpy(&v, p, sizeof(v)); }
NETLENS_ALWAYS_INLINE void storeVec(float* p, const Vec8& v) { std::memcpy(p, &v, sizeof(v)); }

// panel[(t·depth + k)·16 + c] = op(B)[k0 + k, j0 + t·16 + c], zero past the last column.
NETLENS_ALWAYS_INLINE void packBlock(bool transB, const float* B, int64_t ldb, int64_t k0, int64_t depth, int64_t j0,
                                     int64_t cols, float* panel) {
  const int64_t tiles = (cols + kPanel - 1) / kPanel;
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t width = std::min(kPanel, cols - t * kPanel);
    float* out = panel + t * depth * kPanel;
    if (!transB) {
      for (int64_t k = 0; k < depth; ++k) {
        const float* row = B + (k0 + k) * ldb + j0 + t * kPanel;
        float* target = out + k * kPanel;
        std::copy(row, row + width, target);
        std::fill(target + width, target + kPanel, 0.0f);
      }
    } else {
      // op(B)[k, j] = B[j, k]: each source row j is contiguous in k.
      for (int64_t c = 0; c < kPanel; ++c) {
        if (c >= width) {
          for (int64_t k = 0; k < depth; ++k) out[k * kPanel + c] = 0.0f;
          continue;
        }
        const float* row = B + (j0 + t * kPanel + c) * ldb + k0;
        for (int64_t k = 0; k < depth; ++k) out[k * kPanel + c] = row[k];
      }
    }
  }
}

template <int Rows>
NETLENS_ALWAYS_INLINE void tile(const float* a, int64_t aRowStride, int64_t aColStride, int64_t depth, const float* panel,
                                float* C, int64_t ldc, int64_t width) {
  Vec8 lo[Rows], hi[Rows];
  for (int r = 0; r < Rows; ++r) {
    lo[r] = Vec8{};
    hi[r] = Vec8{};
  }
  for (int64_t k = 0; k < depth; ++k) {
    Vec8 b0, b1;
    loadVec(b0, panel + k * kPanel);
    loadVec(b1, panel + k * kPanel + 8);
    for (int r = 0; r < Rows; ++r) {
      const float s = a[r * aRowStride + k * aColStride];
      const Vec8 broadcast = {s, s, s, s, s, s, s, s};
      lo[r] += broadcast * b0;
      hi[r] += broadcast * b1;
    }
  }
  for (int r = 0; r < Rows; ++r) {
    float* c = C + r * ldc;
    if (width == kPanel) {
      Vec8 c0, c1;
      loadVec(c0, c);
      loadVec(c1, c + 8);
      storeVec(c, c0 + lo[r]);
      storeVec(c + 8, c1 + hi[r]);
    } else {
      float sums[kPanel];
      storeVec(sums, lo[r]);
      storeVec(sums + 8, hi[r]);
      for (int64_t j = 0; j < width; ++j) c[j] += sums[j];
    }
  }
}

// C rows [rowBegin, rowEnd) × cols [colBegin, colEnd) += op(A) · op(B).
NETLENS_ALWAYS_INLINE void gemmRangeBody(int64_t rowBegin, int64_t rowEnd, int64_t colBegin, int64_t colEnd, int64_t K,
                                         const float* A, int64_t aRowStride, int64_t aColStride, bool transB,
                                         const float* B, int64_t ldb, float* C, int64_t ldc) {
  thread_local std::vector<float> panel;
  panel.resize(static_cast<size_t>(kBlockK * kBlockN));
  for (int64_t j0 = colBegin; j0 < colEnd; j0 += kBlockN) {
    const int64_t cols = std::min(kBlockN, colEnd - j0);
    for (int64_t k0 = 0; k0 < K; k0 += kBlockK) {
      const int64_t depth = std::min(kBlockK, K - k0);
      packBlock(transB, B, ldb, k0, depth, j0, cols, panel.data());
      for (int64_t t = 0; t * kPanel < cols; ++t) {
        const float* tilePanel = panel.data() + t * depth * kPanel;
        const int64_t width = std::min(kPanel, cols - t * kPanel);
        int64_t i = rowBegin;
        for (; i + kTileRows <= rowEnd; i += kTileRows) {
          tile<kTileRows>(A + i * aRowStride + k0 * aColStride, aRowStride, aColStride, depth, tilePanel,
                          C + i * ldc + j0 + t * kPanel, ldc, width);
        }
        const float* a = A + i * aRowStride + k0 * aColStride;
        float* c = C + i * ldc + j0 + t * kPanel;
        switch (rowEnd - i) {
          case 5: tile<5>(a, aRowStride, aColStride, depth, tilePanel, c, ldc, width); break;
          case 4: tile<4>(a, aRowStride, aColStride, depth, tilePanel, c, ldc, width); break;
          case 3: tile<3>(a, aRowStride, aColStride, depth, tilePanel, c, ldc, width); break;
          case 2: tile<2>(a, aRowStride, aColStride, depth, tilePanel, c, ldc, width); break;
          case 1: tile<1>(a, aRowStride, aColStride, depth, tilePanel, c, ldc, width); break;
          default: break;
        }
      }
    }
  }
}

using GemmRange = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, const float*, int64_t, int64_t, bool,
                           const float*, int64_t, float*, int64_t);

void gemmRangePortable(int64_t rowBegin, int64_t rowEnd, int64_t colBegin, int64_t colEnd, int64_t K, const float* A,
                       int64_t aRowStride, int64_t aColStride, bool transB, const float* B, int64_t ldb, float* C,
                       int64_t ldc) {
  gemmRangeBody(rowBegin, rowEnd, colBegin, colEnd, K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same loops compiled for AVX2 + FMA and chosen at run time, so one add-on runs on every x86-64
// CPU and uses 256-bit fused multiply-adds where they exist (CMakeLists.txt compiles this file with
// -ffp-contract=fast so a·b + c becomes one FMA).
__attribute__((target("avx2,fma"))) void gemmRangeAvx2(int64_t rowBegin, int64_t rowEnd, int64_t colBegin,
                                                       int64_t colEnd, int64_t K, const float* A, int64_t aRowStride,
                                                       int64_t aColStride, bool transB, const float* B, int64_t ldb,
                                                       float* C, int64_t ldc) {
  gemmRangeBody(rowBegin, rowEnd, colBegin, colEnd, K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
}
#endif

GemmRange selectGemmRange() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemmRangeAvx2;
#endif
  return gemmRangePortable;
}

void gemmRange(int64_t rowBegin, int64_t rowEnd, int64_t colBegin, int64_t colEnd, int64_t K, const float* A,
               int64_t aRowStride, int64_t aColStride, bool transB, const float* B, int64_t ldb, float* C, int64_t ldc) {
  static const GemmRange selected = selectGemmRange();
  selected(rowBegin, rowEnd, colBegin, colEnd, K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
}

}  // namespace

void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
          int64_t ldb, float beta, float* C, int64_t ldc, bool parallel) {
  if (M <= 0 || N <= 0) return;
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + N, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
  if (K <= 0) return;
  const int64_t aRowStride = transA ? 1 : lda;
  const int64_t aColStride = transA ? lda : 1;
  const int64_t work = M * N * K;
  if (!parallel || work < (1 << 18)) {
    gemmRange(0, M, 0, N, K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
    return;
  }
  // Split the larger side; column chunks are whole panels so no tile straddles two threads.
  if (M >= N) {
    parallelFor(M, kTileRows, [&](int64_t begin, int64_t end, int) {
      gemmRange(begin, end, 0, N, K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
    });
  } else {
    const int64_t panels = (N + kPanel - 1) / kPanel;
    parallelFor(panels, 1, [&](int64_t begin, int64_t end, int) {
      gemmRange(0, M, begin * kPanel, std::min(N, end * kPanel), K, A, aRowStride, aColStride, transB, B, ldb, C, ldc);
    });
  }
}

std::string gemmKernelName() {
  return selectGemmRange() == gemmRangePortable ? "built-in portable GEMM" : "built-in AVX2 GEMM";
}

}  // namespace netlens::cpu
