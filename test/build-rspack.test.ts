/**
 * Real Rspack builds of a fixture app importing a converted Inception v3, written to a
 * temp dir as an ES module library and imported back in Node. The cases are shared with
 * webpack: see ./bundlers/webpack-like.ts.
 */
import { webpackLikeSuite, type LikeCompiler } from './bundlers/webpack-like.js'

webpackLikeSuite({
  name: 'rspack',
  distEntry: 'plugin/rspack.js',
  async loadCompiler() {
    const { rspack } = await import('@rspack/core')
    return (config) => rspack(config as never) as unknown as LikeCompiler
  },
})
