// Every user-facing analyzer message, in one place so they read the same way and can be
// tested. The torch catalog keeps its op-specific texts in torch/messages.ts.

export const messages = {
  syntaxError: (near: string) => `Syntax error near '${near}'.`,
  syntaxMissing: (what: string) => `Syntax error: missing ${what}.`,
  unsupportedSyntax: (what: string) => `Netlens does not follow this construct (${what}); values it produces are unknown.`,
  unresolvedImport: (name: string) => `Cannot find module '${name}'; its members are treated as unknown.`,
  importFallback: (name: string) => `Cannot find module '${name}'; Netlens follows the except ImportError branch, as Python would without it.`,
  importBudget: (name: string) => `Stopped evaluating module '${name}' (too much work for an import); later names in it are unknown.`,
  undefinedName: (name: string) => `Name '${name}' is not defined.`,
  unknownAttribute: (owner: string, name: string) => `'${owner}' has no attribute '${name}'.`,
  notCallable: (what: string) => `'${what}' is not callable.`,
  unknownCondition: (assumed: string) => `Netlens cannot decide this condition; it assumes ${assumed}.`,
  unknownIteration: () => 'Netlens cannot tell what this loop iterates over; it skips the loop body.',
  stepBudget: (steps: number) => `Analysis stopped after ${steps.toLocaleString('en-US')} steps (step budget exhausted); results may be incomplete.`,
  recursionLimit: (depth: number) => `Analysis stopped: call depth exceeded ${depth} (recursion limit).`,
  raised: (type: string, message: string) => (message ? `${type}: ${message}` : type),
  assertionFailed: (message: string) => (message ? `Assertion failed: ${message}` : 'Assertion failed.'),
  missingArgument: (fn: string, name: string) => `${fn}() missing required argument '${name}'.`,
  unexpectedArgument: (fn: string, name: string) => `${fn}() got an unexpected keyword argument '${name}'.`,
  multipleValues: (fn: string, name: string) => `${fn}() got multiple values for argument '${name}'.`,
  tooManyArguments: (fn: string, max: number, given: number) => `${fn}() takes ${max} positional arguments but ${given} were given.`,
  indexOutOfRange: (index: string, length: number) => `Index ${index} is out of range for a sequence of length ${length}.`,
  keyNotFound: (key: string) => `Key ${key} not found.`,
  unpackMismatch: (expected: number, got: number) => `Cannot unpack ${got} values into ${expected} targets.`,
  entryNotModel: (entry: string) => `The entry '${entry}' does not evaluate to an nn.Module.`,
  entryFailed: (entry: string) => `Could not evaluate the entry '${entry}'.`,
  noInputs: (model: string) => `No input shape found for ${model}; add a '# netlens: input=(N, C, H, W)' comment or pass --input.`,
  badInputComment: (text: string) => `Cannot read the input comment '${text}'; expected e.g. '# netlens: input=(N, 3, 32, 32)'.`,
  forwardMissing: (cls: string) => `${cls} has no forward() method.`,
  parametersUnsized: (count: number, first: string) =>
    `${count === 1 ? `The size of parameter '${first}' is` : `The sizes of ${count} parameters (the first: '${first}') are`} unknown to Netlens; the parameter counts leave ${count === 1 ? 'it' : 'them'} out.`,
  outputUnknown: (model: string) =>
    `Netlens could not follow ${model}'s forward to its output (it uses something Netlens does not model); its output, and the layers and parameters behind it, are unknown.`,
  divisionByZero: () => 'Division by zero.',
  unknownTorchMember: (name: string) => `Netlens does not know ${name}; what it returns is unknown.`,
  featureExtractorNode: (node: string) =>
    `Netlens follows create_feature_extractor for module outputs only ('${node}' is not a module path of the model); the extractor is unknown.`,
  inplaceShapeChange: (op: string, target: string, result: string) =>
    `In-place '${op}=': the result's shape ${result} does not fit the tensor's shape ${target} (PyTorch raises here).`,
  mainBlockBudget: () => "Netlens stopped following this file's __main__ block (too much work); the models are analyzed anyway.",
  mainBlockStopped: (why: string) => `Netlens stopped following this file's __main__ block at: ${why.split('\n')[0]} The models are analyzed anyway.`,
  cudaDeviceReported: (name: string, cc: string) => `${name} (sm ${cc})`,
  cudaDeviceAssumed: (name: string, cc: string) => `${name} (sm ${cc}) assumed: no GPU reported`,
  inputSizeSolved: (sizes: string) => `No input size was given; Netlens assumes ${sizes}, the smallest size the layers accept. Add a '# netlens: input=(...)' comment to choose another.`,
} as const;
