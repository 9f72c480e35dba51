// The static markup of the "Netlens Engine" page; main.ts fills it. Kept apart from main.ts so the
// extension (which builds the HTML) does not bundle the page's script.
export const engineInfoBodyHtml = `<main>
  <header>
    <h1>Netlens Engine</h1>
    <p id="engine-state" role="status">Waiting for the extension…</p>
  </header>
  <p id="engine-error" class="error" role="alert" hidden></p>
  <table id="engine-table"><tbody></tbody></table>
  <button id="engine-restart" type="button">Restart engine</button>
</main>`;
