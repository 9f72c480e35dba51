// Messages between the extension and the "Netlens Activations" page. The page knows nothing of
// where activations come from (the PyTorch-file engine today, ONNX models later): the extension
// adapts its source's results into these messages. Numeric arrays arrive as typed arrays inside
// VS Code and as plain number arrays from a recorded JSON log; the page accepts both.

export type FloatValues = Float32Array | readonly number[];
export type ByteValues = Uint8Array | readonly number[];

export interface InspectorLayer {
  id: string;
  /** Engine op name (conv2d, relu, linear, …), shown next to the id. */
  op: string;
  /** Per-sample shape, without the batch dimension: [C, H, W] for feature maps, [N] for vectors. */
  shape: number[];
}

export interface InspectorSession {
  /** Panel heading, e.g. "LeNet5 — lenet5.py". */
  title: string;
  /** Where the weights come from, in words ("run 20261127-101500, epoch 3" / "initial weights (seed 0, untrained)"). */
  weights: string;
  /** [C, H, W] of one input image. */
  inputShape: number[];
  /** One per class; empty when the source has no names (the page then says "class 3"). */
  classNames: string[];
  /** Images the page can ask for by index (0: no data set, files only). */
  dataSamples: number;
  /** Name of the data set the samples come from, for the sample picker. */
  dataName: string;
  layers: InspectorLayer[];
}

export interface InspectorImage {
  /** Ties later saliency/occlusion answers to this image; a newer image makes older answers stale. */
  token: number;
  /** Where the image came from, in words ("sample 12 of shapes32" / "cat.png"). */
  source: string;
  width: number;
  height: number;
  /** 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Row-major HWC, 0..255. */
  pixels: ByteValues;
  /** The data set's label for the image, when it has one. */
  label: string | null;
  /** Softmax probabilities, one per class. */
  probabilities: FloatValues;
  activations: (InspectorLayer & { data: FloatValues })[];
  /** Layers the source left out to keep one image's maps within its size budget. */
  omittedLayers?: string[];
  /** Time the source took to compute the probabilities and activations, for the timing readout. */
  sourceMs: number;
}

export interface InspectorFilters {
  /** The layer whose weights these are (the first convolution). */
  layer: string;
  /** [out channels, in channels, kernel height, kernel width]. */
  shape: number[];
  data: FloatValues;
}

export interface InspectorSaliency {
  token: number;
  classIndex: number;
  /** d(class score)/d(input), [C, H, W] like the input. */
  shape: number[];
  gradient: FloatValues;
  sourceMs: number;
}

export interface InspectorOcclusion {
  token: number;
  classIndex: number;
  patch: number;
  stride: number;
  rows: number;
  cols: number;
  /** Row-major [rows, cols]: how much the class probability drops with the patch at that position. */
  map: FloatValues;
  /** The class probability without occlusion. */
  baseline: number;
  sourceMs: number;
}

/** Extension → page. */
export type ToInspector =
  | { type: 'session'; session: InspectorSession }
  | { type: 'busy'; message: string }
  | { type: 'error'; message: string }
  | { type: 'image'; image: InspectorImage }
  | { type: 'filters'; filters: InspectorFilters }
  | { type: 'saliency'; saliency: InspectorSaliency }
  | { type: 'occlusion'; occlusion: InspectorOcclusion };

/** What the page measured after drawing an image's feature maps (bench and log). */
export interface InspectorRenderTiming {
  token: number;
  /** From the image message's arrival to the last feature-map canvas drawn. */
  renderMs: number;
  /** Up to the next animation frame after that: the maps are on screen. */
  framedMs: number;
  canvases: number;
}

/** Page → extension. */
export type FromInspector =
  | { type: 'ready' }
  | { type: 'sample'; index: number }
  | { type: 'openImageFile' }
  | { type: 'saliency'; token: number; classIndex: number }
  | { type: 'occlusion'; token: number; classIndex: number; patch: number; stride: number }
  | { type: 'rendered'; timing: InspectorRenderTiming };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

export function isFromInspector(value: unknown): value is FromInspector {
  if (!isObject(value)) return false;
  switch (value['type']) {
    case 'ready':
    case 'openImageFile':
      return true;
    case 'sample':
      return isNonNegativeInteger(value['index']);
    case 'saliency':
      return isNonNegativeInteger(value['token']) && isNonNegativeInteger(value['classIndex']);
    case 'occlusion':
      return isNonNegativeInteger(value['token']) && isNonNegativeInteger(value['classIndex']) &&
        isNonNegativeInteger(value['patch']) && (value['patch'] as number) > 0 &&
        isNonNegativeInteger(value['stride']) && (value['stride'] as number) > 0;
    case 'rendered': {
      const timing = value['timing'];
      return isObject(timing) && isNonNegativeInteger(timing['token']) && typeof timing['renderMs'] === 'number';
    }
    default:
      return false;
  }
}

const toInspectorPayload: Record<ToInspector['type'], string> = {
  session: 'session',
  busy: 'message',
  error: 'message',
  image: 'image',
  filters: 'filters',
  saliency: 'saliency',
  occlusion: 'occlusion',
};

/** Shape check only: the extension is trusted, this keeps stray window messages out. */
export function isToInspector(value: unknown): value is ToInspector {
  if (!isObject(value) || typeof value['type'] !== 'string') return false;
  const payload = (toInspectorPayload as Record<string, string | undefined>)[value['type']];
  if (payload === undefined) return false;
  return payload === 'message' ? typeof value['message'] === 'string' : isObject(value[payload]);
}
