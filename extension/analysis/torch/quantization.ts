// Eager-mode quantization helpers that float models carry before they are quantized:
// QuantStub / DeQuantStub (identity leaves until torch.ao.quantization.convert swaps them) and
// FloatFunctional, whose add/mul/cat/add_relu/matmul methods pass their result through its
// `activation_post_process` child (an nn.Identity until an observer is attached), so forward
// hooks see that child once per observed call. torchvision's quantization models build these
// with quantize=False; user QAT code does the same.
import type { BuiltinImpl, CallContext, InstanceValue, Value } from '../interp/values';
import { asDim, isTensor, unknownV } from './args';
import type { CatalogEnv } from './env';
import { state, type LayerDef } from './layer';
import { cat, elementwiseBinary, matmul } from './tensorOps';

function stub(name: string): LayerDef {
  return {
    name,
    home: 'stubs',
    hidden: true,
    signature: 'qconfig=None',
    init() {},
    forward(_self, a) {
      // Both return their input unchanged in a float model.
      return a.get('input') ?? unknownV();
    },
  };
}

export function quantizationLayers(env: CatalogEnv): LayerDef[] {
  return [
    stub('QuantStub'),
    stub('DeQuantStub'),
    {
      name: 'FloatFunctional',
      home: 'functional_modules',
      hidden: true,
      signature: '',
      init(self, _a, ctx) {
        const identity = env.classes.get('Identity');
        const observer = identity ? ctx.callValue(identity, []) : undefined;
        if (observer?.kind === 'instance') state(self).children.set('activation_post_process', observer);
      },
      forward() {
        // PyTorch raises: "FloatFunctional is not intended to use the 'forward'".
        return unknownV('FloatFunctional.forward');
      },
    },
  ];
}

/** The methods of FloatFunctional: (bound self, operands) → the op's result, observed or not. */
export function floatFunctionalMethods(): Map<string, BuiltinImpl> {
  const observed = (self: Value | undefined, result: Value, ctx: CallContext): Value => {
    const observer = self?.kind === 'instance' ? (self as InstanceValue).module?.children.get('activation_post_process') : undefined;
    return observer?.kind === 'instance' && isTensor(result) ? ctx.callValue(observer, [result]) : result;
  };
  const relu = (v: Value, ctx: CallContext): Value => (isTensor(v) ? ctx.newTensor(v.shape === null ? null : [...v.shape], v.dtype) : v);
  const operand = (args: readonly Value[], kwargs: ReadonlyMap<string, Value>, index: number, name: string): Value =>
    args[index] ?? kwargs.get(name) ?? unknownV();
  const methods = new Map<string, BuiltinImpl>();
  // args[0] is the bound FloatFunctional instance.
  methods.set('add', (args, kwargs, ctx) => observed(args[0], elementwiseBinary('+', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx, 'promote'), ctx));
  methods.set('add_scalar', (args, kwargs, ctx) => elementwiseBinary('+', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx, 'promote'));
  methods.set('mul', (args, kwargs, ctx) => observed(args[0], elementwiseBinary('*', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx, 'promote'), ctx));
  methods.set('mul_scalar', (args, kwargs, ctx) => elementwiseBinary('*', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx, 'promote'));
  methods.set('add_relu', (args, kwargs, ctx) =>
    observed(args[0], relu(elementwiseBinary('+', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx, 'promote'), ctx), ctx));
  methods.set('matmul', (args, kwargs, ctx) => observed(args[0], matmul('matmul', operand(args, kwargs, 1, 'x'), operand(args, kwargs, 2, 'y'), ctx), ctx));
  methods.set('cat', (args, kwargs, ctx) => {
    const dim = args[2] ?? kwargs.get('dim');
    return observed(args[0], cat('cat', operand(args, kwargs, 1, 'x'), dim !== undefined && asDim(dim) !== undefined ? dim : { kind: 'int', value: 0 }, ctx), ctx);
  });
  return methods;
}
