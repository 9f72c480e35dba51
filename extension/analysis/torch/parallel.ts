// Wrappers around a whole model. nn.DataParallel: its only child is `module`; without a GPU (the
// analysis models one device) PyTorch's forward calls the wrapped module directly, so hooks see
// its layers under `module.`. torch.compile(model): an OptimizedModule whose child `_orig_mod`
// is the model (paths `_orig_mod.…`). Parameters are the wrapped model's.
import type { BoundArgs, BuiltinImpl, CallContext, InstanceValue, Value } from '../interp/values';
import { NONE, listV, unknownV } from './args';
import { setAttr, state, type LayerDef } from './layer';

function wrappedCall(self: InstanceValue, child: string, a: BoundArgs, ctx: CallContext): Value {
  const wrapped = self.module?.children.get(child);
  if (wrapped?.kind !== 'instance') return unknownV(`${self.cls.name} without a module`);
  const inputs = a.get('inputs');
  const kwargs = a.get('kwargs');
  const named = new Map<string, Value>();
  if (kwargs?.kind === 'dict') for (const e of kwargs.entries.values()) if (e.key.kind === 'str') named.set(e.key.value, e.value);
  return ctx.callValue(wrapped, inputs?.kind === 'tuple' ? inputs.items : [], named);
}

export const parallelLayers: LayerDef[] = [
  {
    name: 'DataParallel',
    home: 'parallel',
    signature: 'module, device_ids=None, output_device=None, dim=0',
    forwardSignature: '*inputs, **kwargs',
    init(self, a) {
      const wrapped = a.get('module');
      state(self).children.set('module', wrapped?.kind === 'instance' ? wrapped : NONE);
      setAttr(self, 'dim', a.get('dim') ?? NONE);
      setAttr(self, 'device_ids', listV([]));
      setAttr(self, 'output_device', NONE);
    },
    forward(self, a, ctx) {
      return wrappedCall(self, 'module', a, ctx);
    },
  },
  {
    name: 'OptimizedModule',
    home: 'eval_frame',
    hidden: true,
    signature: 'mod, dynamo_ctx=None',
    forwardSignature: '*inputs, **kwargs',
    init(self, a) {
      const wrapped = a.get('mod');
      state(self).children.set('_orig_mod', wrapped?.kind === 'instance' ? wrapped : NONE);
    },
    forward(self, a, ctx) {
      return wrappedCall(self, '_orig_mod', a, ctx);
    },
  },
];

/**
 * torch.compile(model, ...) → OptimizedModule(model); a function is returned as it is; called
 * with options only (`@torch.compile(mode="max-autotune")`) it is a decorator doing the same.
 */
export function compileBuiltin(wrapperClass: () => Value | undefined): BuiltinImpl {
  const compile: BuiltinImpl = (args, kwargs, ctx) => {
    const target = args[0] ?? kwargs.get('model');
    if (target?.kind === 'instance' && target.module) {
      const cls = wrapperClass();
      return cls ? ctx.callValue(cls, [target]) : target;
    }
    if (target) return target;
    return { kind: 'builtin', name: 'compile', call: compile };
  };
  return compile;
}
