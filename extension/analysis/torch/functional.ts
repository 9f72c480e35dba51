// torch.nn.functional (F.*) and the torch.* mirrors of functional ops (torch.conv2d,
// torch.max_pool2d, torch.batch_norm, torch.embedding, ...). Each entry binds PyTorch's
// signature and reuses the shape rule of the matching layer family.
import type { BoundArgs, BuiltinImpl, CallContext, Value } from '../interp/values';
import { type Dim } from '../shape/dim';
import { asBool, asDim, asDimList, asInt, asStr, isTensor, sig, unknownV } from './args';
import { gluShape, sameShape } from './activation';
import { scaledDotProductAttention } from './attention';
import { functionalConv, functionalConvSignature, functionalConvTransposeSignature } from './conv';
import { embeddingBag, embeddingLookup } from './embedding';
import { bilinearForward, functionalLinear } from './linear';
import { cosineSimilarity, lossShape } from './loss';
import { checkNormalizedShape } from './norm';
import {
  functionalAdaptive, functionalAvgPool, functionalLpPool, functionalMaxPool, functionalUnpool, poolFunctionSignatures,
} from './pool';
import { affineGrid, foldTensor, padTensor, pixelShuffle, unfoldTensor } from './shapeOps';
import { builtinFromSignature, dataDependentDim } from './tensorOps';
import { functionalInterpolate, interpolateSignature } from './upsample';

type Impl = (a: BoundArgs, ctx: CallContext) => Value;

export interface FunctionalTables {
  /** torch.nn.functional.<name> */
  functional: Map<string, BuiltinImpl>;
  /** torch.<name> mirrors of functional ops. */
  torch: Map<string, BuiltinImpl>;
}

export function createFunctional(): FunctionalTables {
  const functional = new Map<string, BuiltinImpl>();
  const torch = new Map<string, BuiltinImpl>();
  const def = (table: Map<string, BuiltinImpl>, names: string | string[], signature: string, impl: Impl): void => {
    for (const n of Array.isArray(names) ? names : [names]) table.set(n, builtinFromSignature(n, sig(signature), impl));
  };
  const F = (names: string | string[], signature: string, impl: Impl): void => def(functional, names, signature, impl);
  const T = (names: string | string[], signature: string, impl: Impl): void => def(torch, names, signature, impl);
  const same: Impl = (a, ctx) => sameShape(a.get('input'), ctx);

  // --- convolution and linear
  for (const n of [1, 2, 3]) {
    F(`conv${n}d`, functionalConvSignature, (a, ctx) => functionalConv(n, false, a, ctx));
    F(`conv_transpose${n}d`, functionalConvTransposeSignature, (a, ctx) => functionalConv(n, true, a, ctx));
    T(`conv${n}d`, functionalConvSignature, (a, ctx) => functionalConv(n, false, a, ctx));
    T(`conv_transpose${n}d`, functionalConvTransposeSignature, (a, ctx) => functionalConv(n, true, a, ctx));
  }
  F('linear', 'input, weight, bias=None', (a, ctx) => functionalLinear(a.get('input'), a.get('weight'), ctx));
  F('bilinear', 'input1, input2, weight, bias=None', (a, ctx) => bilinearForward('bilinear', a.get('input1'), a.get('input2'), a.get('weight'), ctx));
  T('bilinear', 'input1, input2, weight, bias=None', (a, ctx) => bilinearForward('bilinear', a.get('input1'), a.get('input2'), a.get('weight'), ctx));

  // --- activations (shape-preserving)
  const activations = ['relu', 'relu_', 'relu6', 'elu', 'elu_', 'selu', 'selu_', 'celu', 'celu_', 'leaky_relu', 'leaky_relu_', 'rrelu', 'rrelu_', 'gelu', 'silu',
    'mish', 'hardswish', 'hardsigmoid', 'hardtanh', 'hardtanh_', 'sigmoid', 'tanh', 'softplus', 'softsign', 'tanhshrink', 'threshold', 'threshold_',
    'logsigmoid', 'hardshrink', 'softshrink', 'normalize', 'alpha_dropout', 'feature_alpha_dropout', 'dropout', 'dropout1d', 'dropout2d', 'dropout3d', 'channel_shuffle',
    'native_channel_shuffle'];
  F(activations, 'input, *args, **kwargs', same);
  F('prelu', 'input, weight', same);
  T(['prelu', 'selu', 'celu', 'rrelu', 'threshold', 'hardshrink', 'channel_shuffle', 'native_channel_shuffle', 'alpha_dropout', 'feature_alpha_dropout', 'feature_dropout'], 'input, *args, **kwargs', same);
  F(['softmax', 'log_softmax', 'softmin'], 'input, dim=None, _stacklevel=3, dtype=None', same);
  F('gumbel_softmax', 'logits, tau=1, hard=False, eps=1e-10, dim=-1', (a, ctx) => sameShape(a.get('logits'), ctx));
  F('glu', 'input, dim=-1', (a, ctx) => gluShape(a.get('input'), asDim(a.get('dim')), ctx));

  // --- pooling
  for (const n of [1, 2, 3]) {
    F(`max_pool${n}d`, poolFunctionSignatures.max, (a, ctx) => functionalMaxPool(n, a, ctx));
    F(`max_pool${n}d_with_indices`, poolFunctionSignatures.max, (a, ctx) => functionalMaxPool(n, a, ctx, true));
    T(`max_pool${n}d`, poolFunctionSignatures.max, (a, ctx) => functionalMaxPool(n, a, ctx));
    F(`avg_pool${n}d`, n === 1 ? poolFunctionSignatures.avg1 : poolFunctionSignatures.avg, (a, ctx) => functionalAvgPool(n, a, ctx));
    F(`adaptive_avg_pool${n}d`, poolFunctionSignatures.adaptiveAvg, (a, ctx) => functionalAdaptive(n, false, a, ctx));
    F(`adaptive_max_pool${n}d`, poolFunctionSignatures.adaptiveMax, (a, ctx) => functionalAdaptive(n, true, a, ctx));
    F(`adaptive_max_pool${n}d_with_indices`, poolFunctionSignatures.adaptiveMax, (a, ctx) => functionalAdaptive(n, true, a, ctx, true));
    F(`max_unpool${n}d`, poolFunctionSignatures.unpool, (a, ctx) => functionalUnpool(n, a, ctx));
    F(`lp_pool${n}d`, poolFunctionSignatures.lp, (a, ctx) => functionalLpPool(n, a, ctx));
  }
  T('avg_pool1d', poolFunctionSignatures.avg1, (a, ctx) => functionalAvgPool(1, a, ctx));
  T('adaptive_avg_pool1d', poolFunctionSignatures.adaptiveAvg, (a, ctx) => functionalAdaptive(1, false, a, ctx));
  T('adaptive_max_pool1d', poolFunctionSignatures.adaptiveAvg, (a, ctx) => functionalAdaptive(1, true, a, ctx, true));

  // --- normalization
  F('batch_norm', 'input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-05', same);
  T('batch_norm', 'input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled', same);
  F('instance_norm', 'input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-05', same);
  T('instance_norm', 'input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled', same);
  F('layer_norm', 'input, normalized_shape, weight=None, bias=None, eps=1e-05', (a, ctx) => {
    checkNormalizedShape('layer_norm', a.get('input'), normalizedShapeArg(a.get('normalized_shape')), ctx);
    return same(a, ctx);
  });
  T('layer_norm', 'input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True', (a, ctx) => {
    checkNormalizedShape('layer_norm', a.get('input'), normalizedShapeArg(a.get('normalized_shape')), ctx);
    return same(a, ctx);
  });
  F('rms_norm', 'input, normalized_shape, weight=None, eps=None', (a, ctx) => {
    checkNormalizedShape('rms_norm', a.get('input'), normalizedShapeArg(a.get('normalized_shape')), ctx);
    return same(a, ctx);
  });
  F('group_norm', 'input, num_groups, weight=None, bias=None, eps=1e-05', same);
  T('group_norm', 'input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True', same);
  F('local_response_norm', 'input, size, alpha=0.0001, beta=0.75, k=1.0', same);

  // --- shape and resampling
  F('pad', "input, pad, mode='constant', value=None", (a, ctx) => padTensor('pad', a.get('input'), asDimList(a.get('pad')), ctx));
  T(['constant_pad_nd'], 'input, pad, value=0', (a, ctx) => padTensor('pad', a.get('input'), asDimList(a.get('pad')), ctx));
  F(['interpolate', 'upsample'], interpolateSignature, (a, ctx) => functionalInterpolate('interpolate', a, ctx));
  F(['upsample_nearest', 'upsample_bilinear'], 'input, size=None, scale_factor=None', (a, ctx) => functionalInterpolate('interpolate', a, ctx));
  F('pixel_shuffle', 'input, upscale_factor', (a, ctx) => pixelShuffle('pixel_shuffle', a.get('input'), a.get('upscale_factor'), false, ctx));
  F('pixel_unshuffle', 'input, downscale_factor', (a, ctx) => pixelShuffle('pixel_unshuffle', a.get('input'), a.get('downscale_factor'), true, ctx));
  T('pixel_shuffle', 'input, upscale_factor', (a, ctx) => pixelShuffle('pixel_shuffle', a.get('input'), a.get('upscale_factor'), false, ctx));
  T('pixel_unshuffle', 'input, downscale_factor', (a, ctx) => pixelShuffle('pixel_unshuffle', a.get('input'), a.get('downscale_factor'), true, ctx));
  F('unfold', 'input, kernel_size, dilation=1, padding=0, stride=1', (a, ctx) =>
    unfoldTensor('unfold', a.get('input'), a.get('kernel_size'), a.get('dilation'), a.get('padding'), a.get('stride'), ctx));
  F('fold', 'input, output_size, kernel_size, dilation=1, padding=0, stride=1', (a, ctx) =>
    foldTensor('fold', a.get('input'), a.get('output_size'), a.get('kernel_size'), a.get('dilation'), a.get('padding'), a.get('stride'), ctx));
  F('affine_grid', 'theta, size, align_corners=None', (a, ctx) => affineGrid(a.get('theta'), a.get('size'), ctx));
  T('affine_grid_generator', 'theta, size, align_corners', (a, ctx) => affineGrid(a.get('theta'), a.get('size'), ctx));
  F('grid_sample', "input, grid, mode='bilinear', padding_mode='zeros', align_corners=None", (a, ctx) => {
    const input = a.get('input');
    const grid = a.get('grid');
    if (!isTensor(input)) return unknownV();
    if (!input.shape || !isTensor(grid) || !grid.shape) return ctx.newTensor(null, input.dtype);
    return ctx.newTensor([input.shape[0], input.shape[1], ...grid.shape.slice(1, -1)], input.dtype);
  });

  // --- embeddings
  F('embedding', 'input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False', (a, ctx) => embeddingLookup(a.get('input'), a.get('weight'), ctx));
  T('embedding', 'weight, input, padding_idx=-1, scale_grad_by_freq=False, sparse=False', (a, ctx) => embeddingLookup(a.get('input'), a.get('weight'), ctx));
  F('embedding_bag', "input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode='mean', sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None", (a, ctx) =>
    embeddingBag(a.get('input'), a.get('offsets'), a.get('weight'), asBool(a.get('include_last_offset')) ?? false, ctx));
  F('one_hot', 'tensor, num_classes=-1', (a, ctx) => {
    const t = a.get('tensor');
    if (!isTensor(t)) return unknownV();
    const n = asInt(a.get('num_classes'));
    const classes: Dim | undefined = n === -1 ? dataDependentDim() : asDim(a.get('num_classes'));
    return ctx.newTensor(t.shape && classes !== undefined ? [...t.shape, classes] : null, 'int64');
  });

  // --- losses and distances
  const loss = (rule: 'broadcast' | 'classes'): Impl => (a, ctx) => lossShape('loss', a.get('input'), a.get('target'), asStr(a.get('reduction')) ?? 'mean', rule, ctx);
  F(['cross_entropy', 'nll_loss'], 'input, target, *args, reduction=\'mean\', **kwargs', loss('classes'));
  F(['mse_loss', 'l1_loss', 'smooth_l1_loss', 'huber_loss', 'binary_cross_entropy', 'binary_cross_entropy_with_logits', 'kl_div', 'soft_margin_loss', 'poisson_nll_loss', 'gaussian_nll_loss'],
    "input, target, *args, reduction='mean', **kwargs", loss('broadcast'));
  F('cosine_similarity', 'x1, x2, dim=1, eps=1e-08', (a, ctx) => cosineSimilarity(a.get('x1'), a.get('x2'), asDim(a.get('dim')) ?? 1, ctx));
  T('cosine_similarity', 'x1, x2, dim=1, eps=1e-08', (a, ctx) => cosineSimilarity(a.get('x1'), a.get('x2'), asDim(a.get('dim')) ?? 1, ctx));

  // --- attention
  F('scaled_dot_product_attention', 'query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False', scaledDotProductAttention);

  return { functional, torch };
}

function normalizedShapeArg(v: Value | undefined): Dim[] | undefined {
  const d = asDim(v);
  return d !== undefined ? [d] : asDimList(v);
}
