// The "Netlens Summary" page: one torchinfo-like table per model of the file, rendered from
// rows the extension already formatted; clicking a layer's name jumps to its line.
import { cell, element } from '../shared/dom';
import { connect } from '../shared/vscodeApi';
import { summaryBodyHtml } from './body';
import { isToSummaryView, type FromSummaryView, type SummaryModel, type SummaryViewState } from './messages';

// Inside VS Code the extension serves the markup; a plain fixture page starts empty.
if (!document.getElementById('summary-models')) document.body.insertAdjacentHTML('afterbegin', summaryBodyHtml);

const channel = connect<FromSummaryView>();

function modelSection(model: SummaryModel, index: number): HTMLElement {
  const section = document.createElement('section');
  section.className = 'model';
  section.dataset['model'] = model.name;
  const heading = document.createElement('h2');
  heading.textContent = `${model.name}`;
  const entry = document.createElement('code');
  entry.textContent = model.entry;
  heading.append(' ', entry);
  const inputs = document.createElement('p');
  inputs.className = 'inputs';
  inputs.textContent = `Input: ${model.inputs}`;

  const table = document.createElement('table');
  table.className = 'layers';
  table.id = `summary-layers-${index}`;
  const header = table.createTHead().insertRow();
  for (const title of ['Layer', 'Output shape', 'Params', 'MACs']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = title;
    header.append(th);
  }
  const body = table.createTBody();
  for (const row of model.rows) {
    const tr = body.insertRow();
    tr.className = row.output === '' ? 'container' : 'leaf';
    const name = cell(tr, '', 'layer');
    name.style.paddingLeft = `${row.depth * 1.2}em`;
    if (row.line !== undefined) {
      const link = document.createElement('a');
      link.href = '#';
      link.textContent = row.layer;
      link.title = `Go to line ${row.line}`;
      const line = row.line;
      link.addEventListener('click', (event) => {
        event.preventDefault();
        channel.post({ type: 'reveal', line });
      });
      name.append(link);
    } else {
      name.textContent = row.layer;
    }
    cell(tr, row.output, 'shape');
    cell(tr, row.params, 'number');
    cell(tr, row.macs, 'number');
  }

  const totals = document.createElement('table');
  totals.className = 'totals';
  for (const total of model.totals) {
    const tr = totals.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = total.label;
    tr.append(th);
    cell(tr, total.value, 'number');
  }
  section.append(heading, inputs, table, totals);
  if (model.diagnostics.length > 0) {
    const list = document.createElement('ul');
    list.className = 'diagnostics';
    for (const diagnostic of model.diagnostics) {
      const item = document.createElement('li');
      item.textContent = diagnostic;
      list.append(item);
    }
    section.append(list);
  }
  return section;
}

function fileName(file: string): string {
  return file.split(/[\\/]/).pop() ?? file;
}

function render(state: SummaryViewState): void {
  document.body.dataset['status'] = state.status;
  element('summary-title').textContent = `Netlens Summary: ${fileName(state.file)}`;
  const status = element('summary-state');
  status.textContent = state.status === 'waiting' ? 'Analyzing…' : state.status === 'empty' ? state.reason : '';
  status.hidden = state.status === 'ready';
  const models = element('summary-models');
  models.replaceChildren(...(state.status === 'ready' ? state.models.map(modelSection) : []));
  element<HTMLButtonElement>('summary-copy').disabled = state.status !== 'ready' || !channel.insideVsCode;
}

element<HTMLButtonElement>('summary-copy').addEventListener('click', () => channel.post({ type: 'copyMarkdown' }));
channel.listen((message) => {
  if (isToSummaryView(message)) render(message.state);
});
channel.post({ type: 'ready' });
