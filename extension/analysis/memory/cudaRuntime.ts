// What PyTorch's CUDA runtime adds to torch.cuda.max_memory_allocated beyond the tensors'
// own bytes, as far as its source makes it knowable: the caching allocator's 512-byte blocks
// and the cuBLAS / cuBLASLt workspaces it keeps per (handle, stream). Facts and their PyTorch
// sources are in docs/MEMORY.md ("CUDA-only terms"); the numbers follow PyTorch 2.11.
import { messages } from '../messages';

/** c10/cuda/CUDACachingAllocator.cpp: kMinBlockSize; every block is a multiple of it. */
export const CUDA_BLOCK_BYTES = 512;

/**
 * Bytes the caching allocator counts for one tensor of `bytes` (round_size without
 * PYTORCH_CUDA_ALLOC_CONF roundup_power2_divisions): below 512 → 512, else the next multiple
 * of 512. An empty tensor allocates nothing.
 */
export function cudaBlockBytes(bytes: number): number {
  if (bytes <= 0) return 0;
  return Math.ceil(bytes / CUDA_BLOCK_BYTES) * CUDA_BLOCK_BYTES;
}

/** The GPU the estimate is for, as the engine reports it; absent: an H100 is assumed. */
export interface GpuDevice {
  name?: string;
  /** "9.0" as the engine reports it (also "sm90" / "sm_90"). */
  computeCapability?: string;
  /** The CUBLAS_WORKSPACE_CONFIG PyTorch would see (":4096:8"), when known. */
  cublasWorkspaceConfig?: string;
}

export interface ComputeCapability {
  major: number;
  minor: number;
}

export function parseComputeCapability(text: string | undefined): ComputeCapability | undefined {
  const m = /^\s*(?:sm_?)?(\d+)(?:\.(\d+))?\s*$/i.exec(text ?? '');
  if (!m) return undefined;
  // "sm90" carries major and minor as digits: the last digit is the minor.
  if (m[2] === undefined) {
    const digits = m[1];
    if (digits.length < 2) return undefined;
    return { major: Number(digits.slice(0, -1)), minor: Number(digits.slice(-1)) };
  }
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** The H100 that measure_gpu.py and the held-out set ran on; assumed when no GPU is reported. */
const ASSUMED_GPU: Required<Pick<GpuDevice, 'name' | 'computeCapability'>> = { name: 'NVIDIA H100', computeCapability: '9.0' };

const KIB = 1024;
const MIB = 1024 * KIB;

/**
 * CUBLAS_WORKSPACE_CONFIG as parseChosenWorkspaceSize (aten/src/ATen/cuda/CublasHandlePool.cpp)
 * reads it: every ":SIZE:COUNT" pair adds SIZE KiB × COUNT; undefined when no pair matches
 * (PyTorch then warns and keeps its default).
 */
export function cublasWorkspaceConfigBytes(config: string): number | undefined {
  const pairs = [...config.matchAll(/:(\d+):(\d+)/g)];
  if (pairs.length === 0) return undefined;
  let total = 0;
  for (const pair of pairs) total += Number(pair[1]) * KIB * Number(pair[2]);
  return total;
}

/**
 * The cuBLAS workspace of one handle: 32 MiB on sm 9.0 (Hopper), else ":4096:2:16:8"
 * (8 MiB + 128 KiB), unless CUBLAS_WORKSPACE_CONFIG says otherwise.
 */
export function cublasWorkspaceBytes(cc: ComputeCapability, config?: string): number {
  const fromConfig = config === undefined ? undefined : cublasWorkspaceConfigBytes(config);
  if (fromConfig !== undefined) return fromConfig;
  return cc.major === 9 && cc.minor === 0 ? 4096 * KIB * 8 : 4096 * KIB * 2 + 16 * KIB * 8;
}

/**
 * The cuBLASLt workspace: CUBLASLT_WORKSPACE_SIZE, 1024 KiB by default, capped at the cuBLAS
 * workspace (getCUDABlasLtWorkspaceSize). In 2.11 it is a separate allocation: the unified
 * workspace is used only when TORCH_CUBLASLT_UNIFIED_WORKSPACE=1 is set.
 */
export function cublasLtWorkspaceBytes(cublasBytes: number): number {
  return Math.min(MIB, cublasBytes);
}

/** How the ops of a step use cuBLAS through PyTorch's handles. */
export interface GemmUse {
  /** A GEMM runs in forward (the main thread's handle). */
  forward: boolean;
  /** A GEMM runs in backward (the autograd engine's device thread: another handle). */
  backward: boolean;
  /** A forward GEMM takes the cuBLASLt path (addmm with a 1-D bias: nn.Linear with bias). */
  lt: boolean;
}

export interface CublasWorkspaces {
  /** All workspaces a training step holds. */
  trainingBytes: number;
  /** Those an inference (forward only) holds. */
  inferenceBytes: number;
  /** The GPU the sizes are for, and whether it was assumed. */
  device: string;
}

/**
 * The workspaces PyTorch keeps once a step has run: one cuBLAS workspace per (handle, stream)
 * that ran a GEMM, allocated through the caching allocator on first use and never freed
 * (setWorkspaceForHandle); the forward runs on the caller's thread and backward on the autograd
 * engine's device thread, which reserve different handles from the pool. nn.Linear's addmm with
 * bias goes through cuBLASLt, whose workspace is kept per (handle, stream) as well.
 */
export function cublasWorkspaces(use: GemmUse, gpu: GpuDevice | undefined): CublasWorkspaces {
  const reported = parseComputeCapability(gpu?.computeCapability);
  const cc = reported ?? parseComputeCapability(ASSUMED_GPU.computeCapability)!;
  const ccText = `${cc.major}.${cc.minor}`;
  const device = reported ? messages.cudaDeviceReported(gpu?.name || 'GPU', ccText) : messages.cudaDeviceAssumed(ASSUMED_GPU.name, ccText);
  const perHandle = cublasWorkspaceBytes(cc, gpu?.cublasWorkspaceConfig);
  const lt = use.lt ? cublasLtWorkspaceBytes(perHandle) : 0;
  const forward = use.forward ? perHandle + lt : 0;
  const backward = use.backward ? perHandle : 0;
  return { trainingBytes: forward + backward, inferenceBytes: forward, device };
}

/** Ops that run a GEMM through PyTorch's cuBLAS handle on CUDA (convolutions and RNNs go to cuDNN). */
const GEMM_OPS = /^(Linear|LazyLinear|linear|Bilinear|bilinear|matmul|mm|bmm|baddbmm|addmm|addbmm|einsum|MultiheadAttention|multi_head_attention_forward|TransformerEncoderLayer|TransformerDecoderLayer|TransformerEncoder|TransformerDecoder|Transformer)$/;
/** Of those, the ones that reach addmm with a 1-D bias, when their module has a bias. */
const LT_OPS = /^(Linear|LazyLinear|linear)$/;

export function runsGemm(op: string): boolean {
  return GEMM_OPS.test(op);
}

export function mayUseCublasLt(op: string): boolean {
  return LT_OPS.test(op);
}
