// The static markup of the "Netlens Activations" page; main.ts fills it. Kept apart from main.ts
// so the extension (which builds the HTML) does not bundle the page's script.
export const inspectorBodyHtml = `<main>
  <header>
    <h1 id="inspector-title">Netlens Activations</h1>
    <p id="inspector-weights"></p>
  </header>
  <p id="inspector-status" role="status">Waiting for the model…</p>
  <div id="inspector-controls" class="controls">
    <span class="group">
      <label for="inspector-sample">Sample</label>
      <button id="inspector-previous" type="button" title="Previous sample" disabled>‹</button>
      <input id="inspector-sample" type="number" min="0" value="0" disabled>
      <button id="inspector-next" type="button" title="Next sample" disabled>›</button>
      <button id="inspector-random" type="button" disabled>Random</button>
      <span id="inspector-samples" class="note"></span>
    </span>
    <button id="inspector-open" type="button" disabled>Open Image…</button>
    <span class="group">
      <label for="inspector-normalization">Normalize</label>
      <select id="inspector-normalization">
        <option value="map" selected>per map</option>
        <option value="layer">per layer</option>
      </select>
    </span>
    <span class="group">
      <label for="inspector-zoom">Zoom</label>
      <select id="inspector-zoom">
        <option value="1">1×</option><option value="2" selected>2×</option><option value="3">3×</option>
        <option value="4">4×</option><option value="6">6×</option><option value="8">8×</option>
      </select>
    </span>
  </div>
  <div id="inspector-overview" class="overview">
    <figure class="panel">
      <canvas id="inspector-image" class="picture" width="1" height="1"></canvas>
      <figcaption id="inspector-image-caption"></figcaption>
    </figure>
    <section class="panel predictions">
      <h2>Top-5 predictions</h2>
      <ol id="inspector-predictions"></ol>
      <p class="note">Click a class to explain it.</p>
    </section>
    <figure class="panel">
      <canvas id="inspector-saliency" class="picture" width="1" height="1"></canvas>
      <figcaption>
        <span id="inspector-saliency-caption">Saliency</span>
        <label class="slider">Opacity <input id="inspector-opacity" type="range" min="0" max="100" value="70"></label>
      </figcaption>
    </figure>
    <figure class="panel">
      <canvas id="inspector-occlusion" class="picture" width="1" height="1"></canvas>
      <figcaption>
        <span id="inspector-occlusion-caption">Occlusion</span>
        <span class="group">
          <label>Patch <input id="inspector-patch" type="number" min="1" value="8"></label>
          <label>Stride <input id="inspector-stride" type="number" min="1" value="4"></label>
          <button id="inspector-occlude" type="button" disabled>Occlude</button>
        </span>
      </figcaption>
    </figure>
  </div>
  <section id="inspector-filters-section" hidden>
    <h2 id="inspector-filters-title">First-layer filters</h2>
    <canvas id="inspector-filters" class="tiles" width="1" height="1"></canvas>
  </section>
  <p id="inspector-readout" class="readout" aria-live="polite">Hover over a feature map to read its values.</p>
  <p id="inspector-timing" class="note"></p>
  <div id="inspector-layers"></div>
</main>`;
