// Dropout variants: shape-preserving; attributes p and inplace as given. MACs: 0.
// (What dropout keeps for backward — its mask — is the memory model's business.)
import { asNumber } from './args';
import { elementwiseLayer } from './activation';
import type { LayerDef } from './layer';
import * as msg from './messages';

export const dropoutLayers: LayerDef[] = ['Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'AlphaDropout', 'FeatureAlphaDropout'].map((n) => {
  const def = elementwiseLayer(n, 'dropout', 'p=0.5, inplace=False', ['p', 'inplace']);
  const storeAttrs = def.init;
  return {
    ...def,
    init(self, a, ctx) {
      const p = asNumber(a.get('p'));
      if (p !== undefined && (p < 0 || p > 1)) ctx.diagnostic('error', msg.badArguments(n, `dropout probability has to be between 0 and 1, but got ${p}`));
      storeAttrs(self, a, ctx);
    },
  };
});
