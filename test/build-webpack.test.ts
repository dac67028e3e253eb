/**
 * Real webpack 5 builds of a fixture app importing a converted Inception v3, written to a
 * temp dir as an ES module library and imported back in Node. The cases are shared with
 * Rspack: see ./bundlers/webpack-like.ts.
 */
import { webpackLikeSuite, type LikeCompiler } from './bundlers/webpack-like.js'

webpackLikeSuite({
  name: 'webpack',
  distEntry: 'plugin/webpack.js',
  async loadCompiler() {
    const webpack = (await import('webpack')).default
    return (config) => webpack(config as never) as unknown as LikeCompiler
  },
})
