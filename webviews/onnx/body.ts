// The static markup of the ONNX model page; main.ts fills it. Kept apart from main.ts so the
// extension (which builds the HTML) does not bundle the page's script.
export const onnxBodyHtml = `<main>
  <header>
    <h1 id="onnx-title">ONNX model</h1>
    <button id="onnx-run" type="button" disabled>Run on an image…</button>
    <button id="onnx-copy" type="button" disabled>Copy as Markdown</button>
  </header>
  <p id="onnx-about" class="about"></p>
  <p id="onnx-state" role="status">Reading the model…</p>
  <section id="onnx-prediction" hidden>
    <h2>Top predictions</h2>
    <p id="onnx-prediction-source" class="about"></p>
    <table id="onnx-top" class="top"><tbody></tbody></table>
  </section>
  <table id="onnx-layers" class="layers" hidden>
    <thead><tr><th scope="col">#</th><th scope="col">Node</th><th scope="col">Op</th><th scope="col">Output shape</th><th scope="col">Weights</th><th scope="col">Bias</th></tr></thead>
    <tbody></tbody>
  </table>
  <table id="onnx-totals" class="totals"></table>
  <p id="onnx-shape-note" class="about"></p>
</main>`;
