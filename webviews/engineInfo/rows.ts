// How an engine hello reads to people: the table rows of the "Netlens Engine" panel and the
// one-line summary of "Show Engine Info". Pure functions, shared by the extension and the webview.
import type { EngineHello } from '../../extension/engine/protocol';

export interface EngineInfoRow {
  /** Stable element id of the value cell (the e2e tests select on it). */
  id: string;
  label: string;
  value: string;
}

const GIB = 1024 ** 3;

export function formatGiB(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

/** 13000 → "13.0"; 0 → "none". */
export function formatCudaVersion(version: number): string {
  if (version <= 0) return 'none';
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}

function gpuText(hello: EngineHello): string {
  if (hello.gpuPresent) return `yes (${hello.deviceCount} device${hello.deviceCount === 1 ? '' : 's'})`;
  return `no: ${hello.gpuError}`;
}

export function engineInfoRows(hello: EngineHello): EngineInfoRow[] {
  return [
    { id: 'engine-version', label: 'Engine version', value: hello.version },
    { id: 'engine-cuda', label: 'CUDA compiled in', value: hello.cudaCompiled ? `yes (runtime ${formatCudaVersion(hello.runtimeVersion)})` : 'no (CPU-only build)' },
    { id: 'engine-gpu', label: 'GPU present', value: gpuText(hello) },
    { id: 'engine-device', label: 'Device', value: hello.gpuPresent ? `${hello.deviceName} (compute ${hello.computeCapability})` : 'none' },
    {
      id: 'engine-memory',
      label: 'GPU memory',
      value: hello.gpuPresent ? `${formatGiB(hello.totalMemoryBytes)} total, ${formatGiB(hello.freeMemoryBytes)} free` : 'none',
    },
    { id: 'engine-driver', label: 'CUDA driver', value: formatCudaVersion(hello.driverVersion) },
    { id: 'engine-cudnn', label: 'cuDNN', value: hello.cudnnStatus },
    { id: 'engine-cuda-executor', label: 'CUDA training', value: hello.cudaExecutorAvailable ? `yes: ${hello.cudaExecutorStatus}` : `no: ${hello.cudaExecutorStatus}` },
    { id: 'engine-cpu', label: 'CPU', value: `${hello.cpuModel || 'unknown'}, ${hello.cpuThreads} threads${hello.cpuFeatures ? ` [${hello.cpuFeatures}]` : ''}` },
    { id: 'engine-cpu-kernels', label: 'CPU kernels', value: hello.cpuBlas },
    { id: 'engine-process', label: 'Engine process', value: `pid ${hello.pid}, Node ${hello.nodeVersion}, N-API ${hello.napiVersion}` },
    { id: 'engine-addon', label: 'Add-on', value: hello.addonPath },
  ];
}

/** One line for the notification, e.g. "Netlens engine 0.1.0: NVIDIA H100 (79.1 GiB), CUDA 13.0, cuDNN 9.24.0". */
export function engineSummary(hello: EngineHello): string {
  const head = `Netlens engine ${hello.version}`;
  if (!hello.cudaCompiled) return `${head}: CPU only (CUDA not compiled in), ${hello.cpuThreads} CPU threads`;
  if (!hello.gpuPresent) return `${head}: CUDA ${formatCudaVersion(hello.runtimeVersion)} compiled in, no GPU (${hello.gpuError})`;
  const cudnn = hello.cudnnAvailable ? `cuDNN ${hello.cudnnVersion}` : 'no cuDNN';
  return `${head}: ${hello.deviceName} (${formatGiB(hello.totalMemoryBytes)}), CUDA ${formatCudaVersion(hello.runtimeVersion)}, ${cudnn}`;
}
