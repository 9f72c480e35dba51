// Convolutions through oneDNN (Intel's deep-learning kernel library, Debian's libdnnl2), opened with
// dlopen at first use: its JIT-compiled direct convolutions on blocked layouts beat im2col + GEMM.
// conv.cpp asks here first and runs its built-in kernels whenever this answers false.
#pragma once

#include <string>

#include "kernels.h"

namespace netlens::cpu::onednn {

enum class ConvPass { Forward, BackwardData, BackwardWeight };

/**
 * Runs one pass of a convolution on plain NCHW / OIHW buffers, as convForward, convBackwardData and
 * convBackwardWeight define them: Forward (x, w) → y, BackwardData (dy, w) → dx, BackwardWeight
 * (x, dy) → dw. Returns false, having written nothing the built-in kernels would not overwrite, when
 * oneDNN is not usable here or refuses this geometry.
 */
bool convolution(ConvPass pass, const ConvGeometry& g, const float* first, const float* second, float* out);

/** True when libdnnl was loaded and convolutions go through it. */
bool usable();

/**
 * One line for people: "oneDNN 2.6.3 (OpenMP build)" when loaded, otherwise why not ("libdnnl.so.2: cannot
 * open shared object file: …", "NETLENS_BLAS=builtin", "not compiled in: …").
 */
std::string status();

}  // namespace netlens::cpu::onednn
