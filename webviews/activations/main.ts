// The "Netlens Activations" page: the image and its top-5 classes, every layer's feature maps as
// colormapped grids (hover reads a value), the first layer's filters, a saliency overlay and an
// occlusion map. It renders what the messages carry and asks for more; it computes no model.
import { element } from '../shared/dom';
import { connect } from '../shared/vscodeApi';
import { inspectorBodyHtml } from './body';
import {
  isToInspector,
  type FloatValues,
  type FromInspector,
  type InspectorFilters,
  type InspectorImage,
  type InspectorOcclusion,
  type InspectorSaliency,
  type InspectorSession,
} from './protocol';
import {
  blendHeat,
  filterTiles,
  formatValue,
  gridLayout,
  imagePixels,
  occlusionPixels,
  paintFeatureGrid,
  percentile,
  positionAt,
  saliencyMap,
  topPredictions,
  valueRange,
  viridisTable,
  type GridLayout,
  type Normalization,
  type Pixels,
} from './render';

if (!document.getElementById('inspector-layers')) document.body.insertAdjacentHTML('afterbegin', inspectorBodyHtml);

const channel = connect<FromInspector>();
const colormap = viridisTable();

const ui = {
  title: element('inspector-title'),
  weights: element('inspector-weights'),
  status: element('inspector-status'),
  sample: element<HTMLInputElement>('inspector-sample'),
  previous: element<HTMLButtonElement>('inspector-previous'),
  next: element<HTMLButtonElement>('inspector-next'),
  random: element<HTMLButtonElement>('inspector-random'),
  samples: element('inspector-samples'),
  open: element<HTMLButtonElement>('inspector-open'),
  normalization: element<HTMLSelectElement>('inspector-normalization'),
  zoom: element<HTMLSelectElement>('inspector-zoom'),
  image: element<HTMLCanvasElement>('inspector-image'),
  imageCaption: element('inspector-image-caption'),
  predictions: element<HTMLOListElement>('inspector-predictions'),
  saliency: element<HTMLCanvasElement>('inspector-saliency'),
  saliencyCaption: element('inspector-saliency-caption'),
  opacity: element<HTMLInputElement>('inspector-opacity'),
  occlusion: element<HTMLCanvasElement>('inspector-occlusion'),
  occlusionCaption: element('inspector-occlusion-caption'),
  patch: element<HTMLInputElement>('inspector-patch'),
  stride: element<HTMLInputElement>('inspector-stride'),
  occlude: element<HTMLButtonElement>('inspector-occlude'),
  filtersSection: element('inspector-filters-section'),
  filtersTitle: element('inspector-filters-title'),
  filters: element<HTMLCanvasElement>('inspector-filters'),
  readout: element('inspector-readout'),
  timing: element('inspector-timing'),
  layers: element('inspector-layers'),
};

/** One layer's section: its canvas, layout and reusable pixel buffer, and the data last drawn. */
interface LayerView {
  id: string;
  op: string;
  shape: number[];
  layout: GridLayout;
  canvas: HTMLCanvasElement;
  pixels: ImageData;
  range: HTMLElement;
  data: FloatValues;
}

const state = {
  session: undefined as InspectorSession | undefined,
  image: undefined as InspectorImage | undefined,
  imagePixels: undefined as Pixels | undefined,
  layers: new Map<string, LayerView>(),
  layerKey: '',
  selectedClass: 0,
  saliency: undefined as { map: Float32Array; classIndex: number } | undefined,
  occlusion: undefined as InspectorOcclusion | undefined,
  filters: undefined as InspectorFilters | undefined,
};

function setStatus(status: 'waiting' | 'busy' | 'ready' | 'error', message: string): void {
  document.body.dataset['status'] = status;
  ui.status.textContent = message;
  ui.status.hidden = message === '';
}

function className(index: number): string {
  return state.session?.classNames[index] ?? `class ${index}`;
}

function zoom(): number {
  return Number(ui.zoom.value) || 1;
}

function normalization(): Normalization {
  return ui.normalization.value === 'layer' ? 'layer' : 'map';
}

function drawPixels(canvas: HTMLCanvasElement, pixels: Pixels): void {
  canvas.width = pixels.width;
  canvas.height = pixels.height;
  const context = canvas.getContext('2d');
  if (!context) return;
  const imageData = context.createImageData(pixels.width, pixels.height);
  imageData.data.set(pixels.data);
  context.putImageData(imageData, 0, 0);
}

function showSession(session: InspectorSession): void {
  state.session = session;
  state.image = undefined;
  state.saliency = undefined;
  state.occlusion = undefined;
  ui.title.textContent = `Netlens Activations: ${session.title}`;
  ui.weights.textContent = `Weights: ${session.weights}`;
  const hasSamples = session.dataSamples > 0;
  for (const control of [ui.sample, ui.previous, ui.next, ui.random]) control.disabled = !hasSamples;
  ui.sample.max = String(Math.max(0, session.dataSamples - 1));
  ui.samples.textContent = hasSamples ? `of ${session.dataSamples} (${session.dataName})` : 'no data set: open an image file';
  ui.open.disabled = !channel.insideVsCode;
  const [, height = 32] = session.inputShape;
  ui.patch.value = String(Math.max(1, Math.round(height / 4)));
  ui.stride.value = String(Math.max(1, Math.round(height / 8)));
  setStatus('ready', '');
}

/** Builds the layer sections when the set of layers changes; later images reuse the canvases. */
function layerViews(activations: InspectorImage['activations']): void {
  const key = activations.map((layer) => `${layer.id}:${layer.shape.join('x')}`).join('|');
  if (key === state.layerKey) return;
  state.layerKey = key;
  state.layers.clear();
  const sections: HTMLElement[] = [];
  for (const activation of activations) {
    const layout = gridLayout(activation.shape);
    const details = document.createElement('details');
    details.className = 'layer';
    details.open = true;
    details.dataset['layer'] = activation.id;
    const summary = document.createElement('summary');
    const name = document.createElement('strong');
    name.textContent = activation.id;
    const detail = document.createElement('code');
    detail.textContent = ` ${activation.op} [${activation.shape.join(', ')}]`;
    const range = document.createElement('span');
    range.className = 'note';
    summary.append(name, detail, ' ', range);
    const canvas = document.createElement('canvas');
    canvas.className = 'maps';
    canvas.width = layout.canvasWidth;
    canvas.height = layout.canvasHeight;
    canvas.dataset['layer'] = activation.id;
    details.append(summary, canvas);
    sections.push(details);
    const view: LayerView = {
      id: activation.id, op: activation.op, shape: activation.shape, layout, canvas,
      pixels: new ImageData(layout.canvasWidth, layout.canvasHeight), range, data: activation.data,
    };
    canvas.addEventListener('mousemove', (event) => hover(view, event));
    canvas.addEventListener('mouseleave', () => {
      ui.readout.textContent = 'Hover over a feature map to read its values.';
    });
    state.layers.set(activation.id, view);
  }
  ui.layers.replaceChildren(...sections);
  sizeLayerCanvases();
}

/** CSS size only: small maps get a larger base scale so every layer is readable, times the zoom. */
function sizeLayerCanvases(): void {
  for (const view of state.layers.values()) {
    const { layout, canvas } = view;
    if (view.shape.length === 3) {
      const base = Math.max(1, Math.floor(40 / Math.max(layout.height, layout.width)));
      canvas.style.width = `${layout.canvasWidth * base * zoom()}px`;
      canvas.style.height = `${layout.canvasHeight * base * zoom()}px`;
    } else {
      const base = Math.max(1, Math.floor(512 / layout.canvasWidth));
      canvas.style.width = `${layout.canvasWidth * base * zoom()}px`;
      canvas.style.height = `${8 * zoom()}px`;
    }
  }
  ui.filters.style.width = `${ui.filters.width * 8 * zoom()}px`;
  ui.filters.style.height = `${ui.filters.height * 8 * zoom()}px`;
}

function drawLayer(view: LayerView): void {
  paintFeatureGrid({ width: view.pixels.width, height: view.pixels.height, data: view.pixels.data }, view.layout, view.data, normalization(), colormap);
  view.canvas.getContext('2d')?.putImageData(view.pixels, 0, 0);
  const { min, max } = valueRange(view.data);
  view.range.textContent = `min ${formatValue(min)}, max ${formatValue(max)}`;
}

function hover(view: LayerView, event: MouseEvent): void {
  const box = view.canvas.getBoundingClientRect();
  const px = Math.floor(((event.clientX - box.left) / box.width) * view.canvas.width);
  const py = Math.floor(((event.clientY - box.top) / box.height) * view.canvas.height);
  const position = positionAt(view.layout, px, py);
  if (!position) return;
  const value = view.data[position.index]!;
  const where = view.shape.length === 3 ? `channel ${position.channel} · y ${position.y} · x ${position.x}` : `unit ${position.x}`;
  ui.readout.textContent = `${view.id} · ${where} · value ${formatValue(value)}`;
  Object.assign(ui.readout.dataset, { layer: view.id, channel: String(position.channel), y: String(position.y), x: String(position.x), value: formatValue(value) });
}

function showPredictions(image: InspectorImage): void {
  const rows = topPredictions(image.probabilities, 5).map(({ classIndex, probability }) => {
    const item = document.createElement('li');
    item.dataset['class'] = String(classIndex);
    item.classList.toggle('selected', classIndex === state.selectedClass);
    item.title = `Explain ${className(classIndex)} (saliency; occlusion with the button)`;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = className(classIndex);
    const track = document.createElement('span');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.display = 'block';
    bar.style.width = `${(probability * 100).toFixed(1)}%`;
    track.append(bar);
    const value = document.createElement('span');
    value.className = 'probability';
    value.textContent = `${(probability * 100).toFixed(1)}%`;
    item.append(name, track, value);
    item.tabIndex = 0;
    item.addEventListener('click', () => selectClass(classIndex));
    item.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') selectClass(classIndex);
    });
    return item;
  });
  ui.predictions.replaceChildren(...rows);
}

function selectClass(classIndex: number): void {
  const image = state.image;
  if (!image) return;
  state.selectedClass = classIndex;
  ui.predictions.querySelectorAll('li').forEach((item) => item.classList.toggle('selected', item.dataset['class'] === String(classIndex)));
  ui.saliencyCaption.textContent = `Saliency for ${className(classIndex)}…`;
  channel.post({ type: 'saliency', token: image.token, classIndex });
}

function showImage(image: InspectorImage, arrived: number): void {
  state.image = image;
  state.saliency = undefined;
  state.occlusion = undefined;
  state.imagePixels = imagePixels(image.pixels, image.width, image.height, image.channels);
  drawPixels(ui.image, state.imagePixels);
  ui.imageCaption.textContent = `${image.source}${image.label === null ? '' : ` · label: ${image.label}`}`;
  state.selectedClass = topPredictions(image.probabilities, 1)[0]?.classIndex ?? 0;
  showPredictions(image);
  for (const canvas of [ui.saliency, ui.occlusion]) {
    canvas.width = 1;
    canvas.height = 1;
  }
  ui.occlusionCaption.textContent = 'Occlusion: choose a patch and stride';
  ui.occlude.disabled = false;

  layerViews(image.activations);
  for (const activation of image.activations) {
    const view = state.layers.get(activation.id);
    if (!view) continue;
    view.data = activation.data;
    drawLayer(view);
  }
  const renderMs = performance.now() - arrived;
  const canvases = image.activations.length;
  const omitted = image.omittedLayers ?? [];
  ui.timing.textContent = `${canvases} layers drawn in ${renderMs.toFixed(1)} ms (model ${image.sourceMs.toFixed(1)} ms)` +
    (omitted.length > 0 ? `; not shown, too large to send at once: ${omitted.join(', ')}` : '');
  document.body.dataset['token'] = String(image.token);
  setStatus('ready', '');
  // "Drawn" in the browser's sense too: the frame after the canvases were filled.
  requestAnimationFrame(() => setTimeout(() => {
    channel.post({ type: 'rendered', timing: { token: image.token, renderMs, framedMs: performance.now() - arrived, canvases } });
  }, 0));
  selectClass(state.selectedClass);
}

function drawSaliency(): void {
  const image = state.imagePixels;
  if (!image || !state.saliency) return;
  const { map, classIndex } = state.saliency;
  // A few pixels usually dominate the gradient; clipping at the 99th percentile keeps the rest visible.
  drawPixels(ui.saliency, blendHeat(image, map, { min: 0, max: percentile(map, 0.99) }, Number(ui.opacity.value) / 100, colormap));
  ui.saliencyCaption.textContent = `Saliency for ${className(classIndex)}`;
  ui.saliency.dataset['class'] = String(classIndex);
}

function showSaliency(saliency: InspectorSaliency): void {
  if (saliency.token !== state.image?.token || saliency.classIndex !== state.selectedClass) return;
  state.saliency = { map: saliencyMap(saliency.gradient, saliency.shape), classIndex: saliency.classIndex };
  drawSaliency();
}

function drawOcclusion(): void {
  const image = state.imagePixels;
  const occlusion = state.occlusion;
  if (!image || !occlusion) return;
  const heat = occlusionPixels(occlusion.map, occlusion.rows, occlusion.cols, occlusion.patch, occlusion.stride, image.height, image.width);
  // Drops are probabilities: 0..max drop, with gains (negative drops) at the cold end.
  const range = { min: 0, max: Math.max(1e-6, valueRange(occlusion.map).max) };
  drawPixels(ui.occlusion, blendHeat(image, heat, range, Number(ui.opacity.value) / 100, colormap));
  const { max } = valueRange(occlusion.map);
  ui.occlusionCaption.textContent = `Occlusion for ${className(occlusion.classIndex)}: ${occlusion.rows}×${occlusion.cols} positions, ` +
    `largest drop ${(max * 100).toFixed(1)} points from ${(occlusion.baseline * 100).toFixed(1)}%`;
  ui.occlusion.dataset['class'] = String(occlusion.classIndex);
}

function showOcclusion(occlusion: InspectorOcclusion): void {
  if (occlusion.token !== state.image?.token) return;
  state.occlusion = occlusion;
  ui.occlude.disabled = false;
  drawOcclusion();
}

function showFilters(filters: InspectorFilters): void {
  state.filters = filters;
  const { pixels } = filterTiles(filters.data, filters.shape);
  drawPixels(ui.filters, pixels);
  ui.filtersTitle.textContent = `First-layer filters: ${filters.layer} [${filters.shape.join(', ')}]`;
  ui.filtersSection.hidden = false;
  sizeLayerCanvases();
}

function requestSample(index: number): void {
  const samples = state.session?.dataSamples ?? 0;
  if (samples === 0) return;
  const wrapped = ((index % samples) + samples) % samples;
  ui.sample.value = String(wrapped);
  setStatus('busy', `Running sample ${wrapped}…`);
  channel.post({ type: 'sample', index: wrapped });
}

ui.previous.addEventListener('click', () => requestSample(Number(ui.sample.value) - 1));
ui.next.addEventListener('click', () => requestSample(Number(ui.sample.value) + 1));
ui.random.addEventListener('click', () => requestSample(Math.floor(Math.random() * (state.session?.dataSamples ?? 0))));
ui.sample.addEventListener('change', () => requestSample(Math.floor(Number(ui.sample.value) || 0)));
ui.open.addEventListener('click', () => channel.post({ type: 'openImageFile' }));
ui.normalization.addEventListener('change', () => {
  for (const view of state.layers.values()) drawLayer(view);
});
ui.zoom.addEventListener('change', sizeLayerCanvases);
ui.opacity.addEventListener('input', () => {
  drawSaliency();
  drawOcclusion();
});
ui.occlude.addEventListener('click', () => {
  const image = state.image;
  const patch = Math.floor(Number(ui.patch.value));
  const stride = Math.floor(Number(ui.stride.value));
  if (!image || !(patch > 0) || !(stride > 0)) return;
  ui.occlude.disabled = true;
  ui.occlusionCaption.textContent = `Occluding ${patch}×${patch} patches every ${stride} px…`;
  channel.post({ type: 'occlusion', token: image.token, classIndex: state.selectedClass, patch, stride });
});

channel.listen((message) => {
  const arrived = performance.now();
  if (!isToInspector(message)) return;
  switch (message.type) {
    case 'session':
      showSession(message.session);
      break;
    case 'busy':
      setStatus('busy', message.message);
      break;
    case 'error':
      setStatus('error', message.message);
      ui.occlude.disabled = state.image === undefined;
      break;
    case 'image':
      showImage(message.image, arrived);
      break;
    case 'filters':
      showFilters(message.filters);
      break;
    case 'saliency':
      showSaliency(message.saliency);
      break;
    case 'occlusion':
      showOcclusion(message.occlusion);
      break;
  }
});
setStatus('waiting', 'Waiting for the model…');
channel.post({ type: 'ready' });
