/**
 * The manifest's types: the contract between the converter, which writes manifests, and
 * app code, which reads them (re-exported by `unplugin-mpscnn/runtime`). Types only, so
 * that every layer of the code may use them.
 */
/** `convolutionTranspose`: MPSCNNConvolutionTranspose, weights `[out][kernelH][kernelW][in]` already rotated by 180 degrees (docs/network.md). */
export type MpscnnLayerKind = 'conv' | 'depthwise' | 'fullyConnected' | 'convolutionTranspose'

export interface MpscnnTensor {
  /** Where the bytes are: a URL. (The CLI's manifest.json has `file`, a name in its output folder, instead.) */
  url: string
  /** Byte offset of the tensor inside the file (0 unless packed). */
  offset: number
  byteLength: number
  /** Weights: `[out, kernelH, kernelW, in / groups]` (`[channels, kernelH, kernelW]` for depthwise). Bias: `[out]`. */
  shape: number[]
  dtype: 'float32' | 'float16'
}

export interface MpscnnLayer<Name extends string = string> {
  /** The layer's name; its files are `weights_<name>.dat`, `bias_<name>.dat`, the name made portable (see the README's "File names"). */
  name: Name
  kind: MpscnnLayerKind
  inputChannels: number
  outputChannels: number
  kernelHeight: number
  kernelWidth: number
  strideY: number
  strideX: number
  dilationY: number
  dilationX: number
  /** 1; the input channel count for a depthwise convolution (a grouped one when its multiplier is > 1). */
  groups: number
  padding: 'same' | 'valid'
  activation: 'relu' | 'relu6' | 'none'
  weights: MpscnnTensor
  bias: MpscnnTensor
}

export interface MpscnnManifest<Name extends string = string, Image extends string = string> {
  /** The model's file name. */
  source: string
  /** sha256 of the model's bytes. */
  sha256: string
  precision: 'float32' | 'float16'
  layers: MpscnnLayer<Name>[]
  /** The whole network in MPSCNN terms (absent with the option `network: false`). See docs/network.md. */
  network?: MpscnnNetwork<Image, Name>
}

/** One MPSImage: `[1][height][width][featureChannels]`. */
export interface MpscnnImage {
  width: number
  height: number
  featureChannels: number
}

/** An MPSCNNNeuron: `relu` MPSCNNNeuronReLU (a = 0), `relu6` MPSCNNNeuronReLUN (b = 6), `linear` y = a * x + b, `leakyRelu` MPSCNNNeuronReLU with a, ... */
export interface MpscnnNeuron {
  type: 'relu' | 'relu6' | 'linear' | 'sigmoid' | 'tanh' | 'elu' | 'leakyRelu' | 'softPlus' | 'softSign' | 'absolute'
  a?: number
  b?: number
}

/** Kinds of network nodes, each named after its MPS class (`MPSCNN` + capitalised kind). */
export type MpscnnNodeKind =
  | 'convolution'
  | 'depthwiseConvolution'
  | 'fullyConnected'
  | 'convolutionTranspose'
  | 'poolingMax'
  | 'poolingAverage'
  | 'neuron'
  | 'add'
  | 'subtract'
  | 'multiply'
  | 'softMax'
  | 'logSoftMax'
  | 'reshape'
  | 'upsampling'
  | 'batchNormalization'
  | 'concatenation'

/** One encode: an MPS kernel reading `source` and writing `destination`. */
export interface MpscnnNetworkNode<Image extends string = string, Layer extends string = string> {
  kind: MpscnnNodeKind
  /** The TF node the encode stands for (the kernel's op). */
  name: string
  /** Every TF node it covers (folded batch norms, bias adds, a fused activation, pass-through ops). */
  tf: string[]
  /** An image name; two for `add`, `subtract`, `multiply` (primary, secondary); several for `concatenation`. */
  source: Image | Image[]
  destination: Image
  /** Source position of the centre of the window of destination pixel (0, 0) (MPSCNNKernel.offset). */
  offset: { x: number; y: number }
  /** What reads outside the source image give: `zero`, or `clamp` (for average pooling: the window shrinks to the image). */
  edgeMode: 'zero' | 'clamp'
  /** The first channel of `destination` this encode writes. */
  destinationFeatureChannelOffset: number
  /** The activation the kernel applies to its result (kernels that take a neuron filter), or null. */
  neuron: MpscnnNeuron | null
  /** Weighted kinds: the `layers[]` entry holding the weights and bias. */
  layer?: Layer
  /** Convolutions, fully connected layers (the flattened image's size), pools. */
  kernel?: { width: number; height: number }
  /** Convolutions and pools (strideInPixelsX/Y); upsampling: the scale factor. */
  stride?: { x: number; y: number }
  /**
   * `convolutionTranspose` (MPSCNNConvolutionTranspose.kernelOffsetX/Y, with `offset` 0): the centre of destination
   * pixel (0, 0)'s window on the intermediate image (the source with stride - 1 zeros between pixels).
   */
  kernelOffset?: { x: number; y: number }
  /** Convolutions (dilationRateX/Y). */
  dilation?: { x: number; y: number }
  /** Weighted kinds: channels read per pixel (for a fully connected layer after a flatten, the image's channels). */
  inputFeatureChannels?: number
  outputFeatureChannels?: number
  /** Convolutions: 1, or the input channels of a grouped (depthwise with multiplier > 1) convolution. */
  groups?: number
  /** `neuron` nodes: the neuron itself (`neuron` holds the same). `batchNormalization`: y = x * scale[c] + bias[c]. */
  scale?: number[]
  bias?: number[]
  /** `concatenation`: the channel offset of each source in `destination`. */
  sourceFeatureChannelOffsets?: number[]
  /** `upsampling`: `nearest` (MPSCNNUpsamplingNearest) or `bilinear` (MPSCNNUpsamplingBilinear), and TF's align_corners. */
  mode?: 'nearest' | 'bilinear'
  alignCorners?: boolean
}

export interface MpscnnNetworkInput<Image extends string = string> {
  /** The image the first kernels read. */
  image: Image
  /** The TF node whose output that image is. */
  tfNode: string
  /** The graph's Placeholder the data comes from. */
  placeholder: string
  /** The TF ops between the placeholder and `preprocess` (decoding, casting, resizing), for the app to do its own way. */
  before: { name: string; op: string }[]
  /** Per-channel `y = x * scale + bias` of the constant affine ops (`tf`) applied to TF tensor `from` (e.g. an MPSCNNNeuronLinear). */
  preprocess?: { scale: number[]; bias: number[]; tf: string[]; from: string }
}

export interface MpscnnNetwork<Image extends string = string, Layer extends string = string> {
  images: Record<Image, MpscnnImage>
  inputs: MpscnnNetworkInput<Image>[]
  outputs: { image: Image; tfNode: string }[]
  /** In encode order (a topological order). */
  nodes: MpscnnNetworkNode<Image, Layer>[]
}
