// How a catalog entry for an nn layer is written: a LayerDef with the constructor's Python
// signature, an init that registers parameters/buffers/attributes the way PyTorch does,
// and a forward shape rule. `toModuleSpec` turns it into the interpreter's ModuleSpec.
import type { BoundArgs, CallContext, InstanceValue, ModuleSpec, ModuleState, ParamSpec, TensorValue, Value } from '../interp/values';
import type { Dim } from '../shape/dim';
import { NONE, sig } from './args';

export interface LayerDef {
  /** Class name as PyTorch spells it. */
  name: string;
  /** The torch.nn.modules submodule that defines it (e.g. 'conv'), for `torch.nn.modules.conv.Conv2d`. */
  home: string;
  /** Constructor parameters after self, Python syntax, PyTorch's defaults. */
  signature: string | ParamSpec[];
  /** Forward parameters after self; defaults to `input`. */
  forwardSignature?: string | ParamSpec[];
  init(self: InstanceValue, a: BoundArgs, ctx: CallContext): void;
  forward(self: InstanceValue, a: BoundArgs, ctx: CallContext): Value;
  macs?(self: InstanceValue, a: BoundArgs, output: Value): Dim;
  /** The output-size arithmetic for hovers ("H: (224 − 11 + 2·2)/4 + 1 = 55"). */
  arithmetic?(self: InstanceValue, a: BoundArgs, output: Value): string[];
  /** Name of a catalog class this one subclasses (its ClassValue goes into the mro). */
  base?: string;
  /** Internal helper classes (not reachable from torch.nn). */
  hidden?: boolean;
}

export function toModuleSpec(def: LayerDef): ModuleSpec {
  // Signatures are parsed on first use: a world has hundreds of layer classes and an
  // analysis constructs a handful of kinds (parsing them all took a few ms of every cold analysis).
  let signature: ParamSpec[] | undefined;
  let forwardSignature: ParamSpec[] | undefined;
  const spec: ModuleSpec = {
    name: def.name,
    get signature() {
      signature ??= typeof def.signature === 'string' ? sig(def.signature) : def.signature;
      return signature;
    },
    init(self, a, ctx) {
      // The bound arguments are made afresh for each construction (nn.ts bindSpec) and no layer's
      // init changes them: kept as they are (copying them was 4 % of a re-analysis's allocation).
      constructorArgs.set(self, a);
      def.init(self, a, ctx);
    },
    get forwardSignature() {
      forwardSignature ??= def.forwardSignature === undefined ? sig('input') : typeof def.forwardSignature === 'string' ? sig(def.forwardSignature) : def.forwardSignature;
      return forwardSignature;
    },
    forward: def.forward,
  };
  if (def.macs) spec.macs = def.macs;
  if (def.arithmetic) spec.arithmetic = def.arithmetic;
  return spec;
}

/** The module bookkeeping of an instance; created when the interpreter has not yet. */
export function state(self: InstanceValue): ModuleState {
  self.module ??= { params: new Map(), buffers: new Map(), children: new Map(), training: false, createdAt: undefined, literalArguments: undefined };
  return self.module;
}

export function setAttr(self: InstanceValue, name: string, value: Value): void {
  self.attrs.set(name, value);
}

export function getAttr(self: InstanceValue, name: string): Value | undefined {
  return self.attrs.get(name);
}

export function setParam(self: InstanceValue, name: string, t: TensorValue | undefined): void {
  state(self).params.set(name, t ?? NONE);
}

export function setBuffer(self: InstanceValue, name: string, t: TensorValue | undefined): void {
  state(self).buffers.set(name, t ?? NONE);
}

/** A registered parameter, else a buffer, else a plain attribute holding a tensor. */
export function tensorMember(self: InstanceValue, name: string): TensorValue | undefined {
  const m = self.module;
  const p = m?.params.get(name) ?? m?.buffers.get(name) ?? self.attrs.get(name);
  return p?.kind === 'tensor' ? p : undefined;
}

// The bound constructor arguments of every catalog-built instance, so containers that
// deep-copy a layer (TransformerEncoder's clones) can build the same layer again.
const constructorArgs = new WeakMap<InstanceValue, BoundArgs>();

export function initArgsOf(inst: InstanceValue): BoundArgs | undefined {
  return constructorArgs.get(inst);
}
