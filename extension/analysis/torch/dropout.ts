// Dropout variants: shape-preserving; attributes p and inplace as given. MACs: 0.
// (What dropout keeps for backward — its mask — is the memory model's business.)
import { elementwiseLayer } from './activation';
import type { LayerDef } from './layer';

export const dropoutLayers: LayerDef[] = ['Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'AlphaDropout', 'FeatureAlphaDropout'].map((n) =>
  elementwiseLayer(n, 'dropout', 'p=0.5, inplace=False', ['p', 'inplace']),
);
