// minid's CNI runtime: the public surface. See libcni.ts for the flow, conf.ts for how network
// configurations are found, invoke.ts for how one plugin is run, cache.ts for the result cache.
export {
  addNetworkList,
  delNetworkList,
  checkNetworkList,
  gcNetworkList,
  statusNetworkList,
  getCachedResult,
  cachedAttachments,
  buildPluginConfig,
  negotiateVersion,
  type AttachmentOptions,
  type CapabilityArgs,
  type CommonOptions,
  type GCAttachment,
  type GCOptions,
  type GCReport,
  type StatusReport,
} from './libcni.js';
export { loadNetworkList, listNetworkNames, confListFromBytes, confListFromConf, DEFAULT_CONF_DIR, type NetworkConfigList, type PluginConf } from './conf.js';
export { cniPath, findPlugin, execPlugin, getVersionInfo, PluginError, DEFAULT_CNI_PATH, type Explain } from './invoke.js';
export { parsePortMappings, parsePortMapping } from './ports.js';
export { convertResult, toCurrent, compareVersions, SUPPORTED_VERSIONS, CURRENT_VERSION, type CniResult, type PortMapping } from './spec.js';
