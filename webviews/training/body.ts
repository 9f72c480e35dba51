// The static markup of the training dashboard; main.ts fills it. Kept apart from main.ts so the
// extension (which builds the HTML) does not bundle the page's script.
export const dashboardBodyHtml = `<main>
  <header>
    <h1 id="dash-title">Netlens Training</h1>
    <button id="dash-csv" type="button" disabled>Export CSV</button>
    <button id="dash-png" type="button" disabled>Export PNG</button>
  </header>
  <p id="dash-state" role="status">Waiting for runs…</p>
  <div class="controls">
    <label title="Exponential moving average of the training loss; the raw line stays faint">Smoothing
      <input id="dash-smoothing" type="range" min="0" max="0.99" step="0.01" value="0.6">
      <output id="dash-smoothing-value">0.60</output></label>
    <label><input id="dash-logx" type="checkbox"> log x</label>
    <label><input id="dash-logy" type="checkbox"> log y</label>
    <label><input id="dash-lr" type="checkbox" checked> learning rate</label>
  </div>
  <div class="runs-scroll"><table id="dash-runs">
    <thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Steps</th><th scope="col">Loss</th>
      <th scope="col">Val acc</th><th scope="col">Images/s</th><th scope="col">Memory</th></tr></thead>
    <tbody></tbody>
  </table></div>
  <section class="chart-section"><h2>Loss</h2><div id="dash-loss" class="chart"></div></section>
  <section class="chart-section"><h2>Accuracy</h2><div id="dash-acc" class="chart"></div></section>
</main>`;
