// torchvision.models.feature_extraction.create_feature_extractor, natively: torchvision builds it
// with torch.fx symbolic tracing, which an abstract interpreter cannot run. For return nodes that
// are module paths of the model ('layer2', 'features.6') the result behaves as the GraphModule
// does: named like the model's class, the model's submodules under their own paths, forward returns
// {new name: that module's output}. The traced graph keeps what the outputs need and every
// side-effecting call (torch._assert, e.g. in each ViT encoder block) with what feeds it; here that
// is approximated by the model's forward up to the later of the last requested output and the last
// torch._assert: layer calls after that point are dropped, and so are the modules (and parameters)
// no kept call used. Other return nodes (functions such as 'flatten', a module's second call
// 'relu_1') are an information diagnostic and an Unknown result, never a guessed shape.
import { messages } from '../messages';
import { computeMro, type Interpreter } from './interpreter';
import { nnHelpersOf } from './nn';
import { UNKNOWN, dictSet, newDict, pyStr, strV, unknownV } from './pyvalues';
import type { BuiltinImpl, ClassValue, InstanceValue, Value } from './values';

/** A node name or output name: torchvision takes str() of each (timm's outputs are ints). */
function nodeName(v: Value): string | undefined {
  if (v.kind === 'str') return v.value;
  if (v.kind === 'int' && typeof v.value === 'number') return pyStr(v);
  return undefined;
}

/** [node path, output name] pairs of a return_nodes list or dict. */
function returnNodes(v: Value | undefined): [string, string][] | undefined {
  if (!v) return undefined;
  if (v.kind === 'list' || v.kind === 'tuple') {
    const names = v.items.map(nodeName);
    return names.every((n): n is string => n !== undefined) ? names.map((n) => [n, n]) : undefined;
  }
  if (v.kind === 'dict') {
    const pairs = [...v.entries.values()].map((e) => {
      const path = nodeName(e.key);
      const name = nodeName(e.value);
      return path !== undefined && name !== undefined ? [path, name] as [string, string] : undefined;
    });
    return pairs.every((p): p is [string, string] => p !== undefined) ? pairs : undefined;
  }
  return undefined;
}

export function installFeatureExtraction(interp: Interpreter): void {
  const create: BuiltinImpl = (args, kwargs, ctx) => {
    const model = args[0] ?? kwargs.get('model');
    if (model?.kind !== 'instance' || !model.module) return unknownV('create_feature_extractor');
    const nodes = returnNodes(args[1] ?? kwargs.get('return_nodes') ?? kwargs.get('eval_return_nodes'));
    const modules = new Map(nnHelpersOf(interp).namedModules(model));
    const missing = nodes === undefined ? 'return_nodes' : nodes.find(([path]) => !modules.has(path))?.[0];
    if (nodes === undefined || missing !== undefined) {
      interp.diagnostic('info', messages.featureExtractorNode(missing ?? 'return_nodes'), ctx.location, 'unsupported');
      return unknownV('create_feature_extractor');
    }
    const wanted = new Map<InstanceValue, string[]>();
    for (const [path, name] of nodes) {
      const inst = modules.get(path)!;
      wanted.set(inst, [...(wanted.get(inst) ?? []), name]);
    }

    // The GraphModule is named after the model's class; its forward is the traced one.
    const { cls, instance: extractor } = graphModuleOf(interp, model);
    let pruned = false;

    cls.attrs.set('forward', {
      kind: 'builtin',
      name: 'forward',
      call: (forwardArgs, forwardKwargs, forwardCtx) => {
        const outputs = new Map<string, Value>();
        // Every module call in order, with the number of layer rows recorded when it returned.
        const calls: { module: InstanceValue; rows: number }[] = [];
        const rows = (): number => interp.tracing?.layerCalls.length ?? 0;
        const firstRow = rows();
        let keepCalls = 0;
        let keepRows = firstRow;
        const tap = (inst: InstanceValue, out: Value): void => {
          calls.push({ module: inst, rows: rows() });
          const names = wanted.get(inst);
          if (!names || names.every((n) => outputs.has(n))) return;
          for (const n of names) outputs.set(n, out);
          keepCalls = calls.length;
          keepRows = rows();
        };
        const effect = (): void => {
          keepCalls = calls.length;
          keepRows = rows();
        };
        interp.outputTaps.push(tap);
        interp.effectTaps.push(effect);
        try {
          interp.callValue(model, forwardArgs.slice(1), forwardKwargs, forwardCtx.location);
        } finally {
          interp.outputTaps.splice(interp.outputTaps.indexOf(tap), 1);
          interp.effectTaps.splice(interp.effectTaps.indexOf(effect), 1);
        }
        // What ran after the last kept point is not part of the traced graph.
        if (interp.tracing && interp.tracing.layerCalls.length > keepRows) interp.tracing.layerCalls.length = Math.max(firstRow, keepRows);
        if (!pruned && outputs.size > 0) {
          pruned = true;
          prune(interp, extractor, new Set(calls.slice(0, keepCalls).map((c) => c.module)));
        }
        const result = newDict(true);
        for (const [, name] of nodes) dictSet(result, strV(name), outputs.get(name) ?? UNKNOWN);
        return result;
      },
    });
    return extractor;
  };
  interp.libraryFunctions.set('torchvision.models.feature_extraction.create_feature_extractor', { kind: 'builtin', name: 'create_feature_extractor', call: create });

  // torch.fx.symbolic_trace(root): a GraphModule named after the root's class that computes the
  // root's output; submodules its forward never called are not part of it (nor their parameters).
  const symbolicTrace: BuiltinImpl = (args, kwargs) => {
    const root = args[0] ?? kwargs.get('root');
    if (root?.kind !== 'instance' || !root.module) return unknownV('torch.fx.symbolic_trace');
    const { cls, instance: traced } = graphModuleOf(interp, root);
    let pruned = false;
    cls.attrs.set('forward', {
      kind: 'builtin',
      name: 'forward',
      call: (forwardArgs, forwardKwargs, forwardCtx) => {
        const called = new Set<InstanceValue>();
        const tap = (inst: InstanceValue): void => { called.add(inst); };
        interp.outputTaps.push(tap);
        let out: Value;
        try {
          out = interp.callValue(root, forwardArgs.slice(1), forwardKwargs, forwardCtx.location);
        } finally {
          interp.outputTaps.splice(interp.outputTaps.indexOf(tap), 1);
        }
        if (!pruned) {
          pruned = true;
          prune(interp, traced, called);
        }
        return out;
      },
    });
    return traced;
  };
  interp.catalog.modules.get('torch.fx')?.set('symbolic_trace', { kind: 'builtin', name: 'symbolic_trace', call: symbolicTrace });
}

/**
 * Drops the submodules no requested output needed, as the traced graph does. A partly used
 * module is replaced by a plain Module holding only its used children (torch.fx builds the same
 * intermediates), so the caller's model is left as it was. A called catalog module (its forward is
 * built in, e.g. MultiheadAttention reading out_proj's weights) keeps all its children.
 */
/**
 * A GraphModule-like module for `model` (torch.fx symbolic_trace, create_feature_extractor): a
 * class named after the model's, its children, parameters and buffers (the traced graph reads the
 * model's own tensors, such as ViT's class_token, as attributes) and its training mode. The caller
 * sets the class's `forward`.
 */
function graphModuleOf(interp: Interpreter, model: InstanceValue): { cls: ClassValue; instance: InstanceValue } {
  const cls: ClassValue = { kind: 'class', name: model.cls.name, mro: [], attrs: new Map(), isModule: true };
  cls.mro = computeMro(cls, [interp.special.moduleBase]);
  const instance = interp.newInstance(cls);
  const state = instance.module!;
  const source = model.module;
  if (source) {
    for (const [name, child] of source.children) state.children.set(name, child);
    for (const [name, p] of source.params) state.params.set(name, p);
    for (const [name, b] of source.buffers) state.buffers.set(name, b);
    state.training = source.training;
  }
  return { cls, instance };
}

function prune(interp: Interpreter, owner: InstanceValue, called: ReadonlySet<InstanceValue>): void {
  const builtinForward = (inst: InstanceValue): boolean => interp.lookupClassAttr(inst.cls, 'forward')?.kind === 'builtin';
  const kept = (inst: InstanceValue): boolean => called.has(inst) && builtinForward(inst);
  const subModules = (inst: InstanceValue): InstanceValue[] =>
    [...inst.module!.children.values()].filter((c): c is InstanceValue => c.kind === 'instance' && !!c.module);
  const used = (inst: InstanceValue): boolean => called.has(inst) || subModules(inst).some(used);
  const complete = (inst: InstanceValue): boolean => kept(inst) || subModules(inst).every((c) => used(c) && complete(c));
  for (const [name, child] of [...owner.module!.children]) {
    if (child.kind !== 'instance' || !child.module) continue;
    if (!used(child)) { owner.module!.children.delete(name); continue; }
    if (complete(child)) continue;
    const plain = interp.newInstance(interp.special.moduleBase);
    for (const [k, v] of child.module.children) plain.module!.children.set(k, v);
    for (const [k, v] of child.module.params) plain.module!.params.set(k, v);
    for (const [k, v] of child.module.buffers) plain.module!.buffers.set(k, v);
    owner.module!.children.set(name, plain);
    prune(interp, plain, called);
  }
}
