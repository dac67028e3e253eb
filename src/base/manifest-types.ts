/**
 * The manifest's types: the contract between the converter, which writes manifests, and
 * app code, which reads them (re-exported by `unplugin-mpscnn/runtime`). Types only, so
 * that every layer of the code may use them.
 */
export type MpscnnLayerKind = 'conv' | 'depthwise' | 'fullyConnected'

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

export interface MpscnnManifest<Name extends string = string> {
  /** The model's file name. */
  source: string
  /** sha256 of the model's bytes. */
  sha256: string
  precision: 'float32' | 'float16'
  layers: MpscnnLayer<Name>[]
}
