// The static markup of the "Netlens Summary" page; main.ts fills it. Kept apart from main.ts so
// the extension (which builds the HTML) does not bundle the page's script.
export const summaryBodyHtml = `<main>
  <header>
    <h1 id="summary-title">Netlens Summary</h1>
    <button id="summary-copy" type="button" disabled>Copy as Markdown</button>
  </header>
  <p id="summary-state" role="status">Waiting for the analysis…</p>
  <div id="summary-models"></div>
</main>`;
