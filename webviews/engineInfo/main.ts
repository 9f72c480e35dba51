// The "Netlens Engine" page: renders the engine's hello as a table, or why there is none.
import { element } from '../shared/dom';
import { connect } from '../shared/vscodeApi';
import { isToEngineInfoView, type EngineInfoViewState, type FromEngineInfoView } from './messages';
import { engineInfoBodyHtml } from './body';
import { engineInfoRows } from './rows';

// Inside VS Code the extension serves the markup; a plain fixture page starts empty.
if (!document.getElementById('engine-table')) document.body.insertAdjacentHTML('afterbegin', engineInfoBodyHtml);

const channel = connect<FromEngineInfoView>();

function renderTable(table: HTMLTableElement, state: EngineInfoViewState): void {
  const body = table.tBodies[0] ?? table.createTBody();
  body.replaceChildren();
  if (state.status !== 'ready') return;
  for (const row of engineInfoRows(state.hello)) {
    const tr = body.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = row.label;
    const td = document.createElement('td');
    td.id = row.id;
    td.textContent = row.value;
    tr.append(th, td);
  }
}

const statusText: Record<EngineInfoViewState['status'], string> = {
  starting: 'Starting the engine…',
  ready: 'Engine running',
  failed: 'The engine could not start',
  disabled: 'The engine is turned off',
};

function render(state: EngineInfoViewState): void {
  document.body.dataset['status'] = state.status;
  element('engine-state').textContent = statusText[state.status];
  const error = element('engine-error');
  const detail = state.status === 'failed' ? state.error : state.status === 'disabled' ? state.reason : '';
  error.textContent = detail;
  error.hidden = detail === '';
  renderTable(element<HTMLTableElement>('engine-table'), state);
  element<HTMLButtonElement>('engine-restart').disabled = state.status === 'starting' || !channel.insideVsCode;
}

element<HTMLButtonElement>('engine-restart').addEventListener('click', () => channel.post({ type: 'restartEngine' }));
channel.listen((message) => {
  if (isToEngineInfoView(message)) render(message.state);
});
channel.post({ type: 'ready' });
