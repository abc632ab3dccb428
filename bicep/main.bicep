// blobpi in a VNet: the index's storage, registry and key vault reachable only through private
// endpoints; the server in an internal Container Apps environment, reachable on its private
// address from the VNet and peered VNets; the sync in a second environment whose internet egress
// goes through a firewall to the upstream only; images built inside the VNet by the registry's
// task agent pool; one identity per role with the least data-plane roles on the narrowest
// scope. See docs/deploy.md for the steps around it.
targetScope = 'resourceGroup'

@description('Optional. Prefix of the resource names: letters, digits, dashes, at most 10 (used in lower case; container app names are limited to 32 characters).')
@minLength(2)
@maxLength(10)
param namePrefix string = 'blobpi'

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Deploy the Container Apps environments, server and sync jobs. Set false for the first deployment, before the images are in the registry.')
param deployApps bool = true

@description('Required. Server image in the deployment registry, without the registry host, e.g. blobpi:0.1.0 (a fixed tag: a redeploy must not change what runs); may be empty while deployApps is false.')
param image string

@description('Required. Image of the sync jobs: the image with the reviewed allow-list baked in (.github/sync.Dockerfile), as the allow-list workflow last built it (docs/deploy.md reads it from the job before a redeploy); may be empty while deployApps is false.')
param syncImage string

@description('Required. Upstream simple index the sync mirrors from (PEP 691 JSON), ending in /simple/.')
param upstreamUrl string

@description('Optional. Hosts the upstream\'s file URLs point at, when not the upstream\'s own host: the firewall allows the sync and the builds https to these and to the upstream host only.')
param upstreamFileHosts array = []

@description('Optional. Let clients inside the network read without a token.')
param anonymousRead bool = false

@description('Optional. Cron schedule (UTC) of the sync: minute and hour fields only (hourly by default).')
param syncSchedule string = '17 * * * *'

@description('Optional. Seconds one sync run may take; must end before the next scheduled run.')
@minValue(600)
@maxValue(86400)
param syncTimeout int = 3000

@description('Optional. Number of sync jobs, each mirroring one shard of the allow-list.')
@minValue(1)
@maxValue(16)
param syncShards int = 1

@description('Optional. Spread the server over availability zones, with 3 replicas at least; false: 1 replica, one zone.')
param zoneRedundant bool = true

@description('Optional. Most server replicas under load.')
@minValue(3)
@maxValue(30)
param maxReplicas int = 5

@description('Optional. Address space of the VNet; must not overlap a peered Azure ML VNet.')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet of the server\'s Container Apps environment, inside addressPrefix.')
param appsSubnetPrefix string = '10.40.0.0/23'

@description('Optional. Subnet of the private endpoints, inside addressPrefix.')
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

@description('Optional. Subnet of the sync jobs\' Container Apps environment, inside addressPrefix.')
param syncSubnetPrefix string = '10.40.3.0/27'

@description('Optional. Subnet of the registry\'s task agent pool, inside addressPrefix.')
param buildsSubnetPrefix string = '10.40.3.32/27'

@description('Optional. AzureFirewallSubnet (at least /26), inside addressPrefix.')
param firewallSubnetPrefix string = '10.40.3.64/26'

@description('Optional. The firewall\'s private address: the fourth address of firewallSubnetPrefix (Azure Firewall takes the first free one).')
param firewallPrivateIp string = '10.40.3.68'

@description('Optional. GitHub repository (OWNER/NAME) whose main-branch workflow may build the image and start the sync; empty for none.')
param githubRepository string = ''

@description('Optional. Resource ID of an existing Azure ML VNet (customer-managed network) to peer with and link the private DNS zones to; empty for none.')
param azureMlVnetId string = ''

@description('Optional. Also link the privatelink.blob zone to azureMlVnetId (for direct blob URLs). Off by default: a VNet links only one zone of a name, and an Azure ML VNet with private storage already links one; then add the account record to that zone (docs/deploy.md).')
param azureMlLinkBlobZone bool = false

@description('Optional. Name of an Azure ML workspace to add the python_feed connection (and, with azureMlManagedNetwork, the outbound rules) to; empty for none.')
param azureMlWorkspaceName string = ''

@description('Optional. Resource group of azureMlWorkspaceName; empty for this one.')
param azureMlResourceGroup string = ''

@description('Optional. The Azure ML workspace uses a managed VNet.')
param azureMlManagedNetwork bool = false

@description('Optional. Index URL of the python_feed connection; empty for the one the workspace can reach: the gateway\'s with deployGateway, else the server\'s.')
param azureMlIndexUrl string = ''

@description('Optional. Read token the python_feed connection sends (blobpi token create --scope read); needed without anonymousRead.')
@secure()
param azureMlFeedToken string = ''

@description('Optional. Deploy the Application Gateway in front of the server (the index URL for an Azure ML managed VNet).')
param deployGateway bool = false

@description('Optional. Host name of the gateway\'s listener, e.g. pypi.internal.example.com (with deployGateway).')
param gatewayHostName string = ''

@description('Optional. Key Vault secret ID of the gateway\'s PFX certificate for gatewayHostName (with deployGateway).')
param gatewayCertificateSecretId string = ''

@description('Optional. Subnet of the Application Gateway, inside addressPrefix.')
param gatewaySubnetPrefix string = '10.40.4.0/24'

@description('Optional. Subnet of the gateway\'s private link configuration, inside addressPrefix.')
param gatewayLinkSubnetPrefix string = '10.40.5.0/27'

@description('Optional. Static private address of the gateway\'s private frontend, inside gatewaySubnetPrefix.')
param gatewayPrivateIp string = '10.40.4.10'

@description('Optional. The server may also write blobs (uploads through its API, token last-use records); off, it only reads.')
param serverUploads bool = false

@description('Optional. How the server answers downloads: stream (through the server) or redirect (to a short-lived read SAS of the one blob; clients must then reach the storage private endpoint, and the server holds Storage Blob Delegator).')
@allowed([
  'stream'
  'redirect'
])
param serverDownloads string = 'stream'

@description('Optional. The HTTP server under the index app (BLOBPI_HTTP_SERVER). granian answers about 2.8x the requests of uvicorn per core (README, Performance); its one weakness, a connection that never sends a byte stays open, cannot reach it behind the Container Apps ingress, which proxies only complete requests.')
@allowed([
  'granian'
  'uvicorn'
])
param serverStack string = 'granian'

@description('Optional. Name of a key vault secret that holds the token file, mounted into the server; empty to keep tokens in the container.')
param tokenSecretName string = ''

@description('Optional. Tags for all resources.')
param tags object = {
  application: 'blobpi'
}

var suffix = uniqueString(resourceGroup().id, namePrefix)
// Lower case: container app, job and environment names allow no upper case.
var prefix = '${toLower(namePrefix)}-${suffix}'
// Where the Azure ML VNet lives; ARM evaluates only the branch if() selects.
var amlVnetSubscription = empty(azureMlVnetId) ? subscription().subscriptionId : split(azureMlVnetId, '/')[2]
var amlVnetGroup = empty(azureMlVnetId) ? resourceGroup().name : split(azureMlVnetId, '/')[4]
var ownVnet = [
  network.outputs.vnetId
]
// The index host name must resolve in the Azure ML VNet, and (for direct blob URLs) the blob
// endpoint too; the registry and the vault stay private to the deployment VNet.
var appVnetIds = concat(ownVnet, empty(azureMlVnetId) ? [] : [azureMlVnetId])
var blobVnetIds = concat(ownVnet, empty(azureMlVnetId) || !azureMlLinkBlobZone ? [] : [azureMlVnetId])
// https://HOST/simple/ -> HOST: the firewall allows the sync and the builds to it.
var upstreamHosts = union([split(upstreamUrl, '/')[2]], upstreamFileHosts)
var withAzureMl = deployApps && !empty(azureMlWorkspaceName)
var amlGroup = empty(azureMlResourceGroup) ? resourceGroup().name : azureMlResourceGroup

module network 'modules/network.bicep' = {
  name: 'network-${suffix}'
  params: {
    name: '${prefix}-vnet'
    location: location
    addressPrefix: addressPrefix
    appsSubnetPrefix: appsSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    syncSubnetPrefix: syncSubnetPrefix
    buildsSubnetPrefix: buildsSubnetPrefix
    firewallSubnetPrefix: firewallSubnetPrefix
    firewallPrivateIp: firewallPrivateIp
    gateway: deployGateway
    gatewaySubnetPrefix: gatewaySubnetPrefix
    gatewayLinkSubnetPrefix: gatewayLinkSubnetPrefix
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring-${suffix}'
  params: {
    name: '${prefix}-logs'
    location: location
    tags: tags
  }
}

module egress 'modules/egress.bicep' = {
  name: 'egress-${suffix}'
  params: {
    name: '${prefix}-fw'
    location: location
    subnetId: network.outputs.firewallSubnetId
    sourcePrefixes: [
      syncSubnetPrefix
      buildsSubnetPrefix
    ]
    upstreamHosts: upstreamHosts
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage-${suffix}'
  params: {
    name: 'st${suffix}'
    location: location
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetIds: blobVnetIds
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry-${suffix}'
  params: {
    name: 'cr${suffix}'
    location: location
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    buildsSubnetId: network.outputs.buildsSubnetId
    workspaceId: monitoring.outputs.workspaceId
    vnetIds: ownVnet
    tags: tags
  }
  dependsOn: [
    egress // the agent pool's subnet routes through the firewall
  ]
}

module vault 'modules/keyvault.bicep' = {
  name: 'vault-${suffix}'
  params: {
    name: 'kv-${suffix}'
    location: location
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    workspaceId: monitoring.outputs.workspaceId
    vnetIds: ownVnet
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity-${suffix}'
  params: {
    namePrefix: prefix
    location: location
    storageAccountName: storage.outputs.accountName
    containerName: storage.outputs.containerName
    registryName: registry.outputs.registryName
    vaultName: vault.outputs.vaultName
    tokenSecretName: tokenSecretName
    githubRepository: githubRepository
    serverUploads: serverUploads
    serverDownloads: serverDownloads
    tags: tags
  }
}

module apps 'modules/apps.bicep' = if (deployApps) {
  name: 'apps-${suffix}'
  params: {
    namePrefix: prefix
    location: location
    appsSubnetId: network.outputs.appsSubnetId
    appsSubnetPrefix: appsSubnetPrefix
    vnetIds: appVnetIds
    workspaceId: monitoring.outputs.workspaceId
    registryServer: registry.outputs.loginServer
    image: image
    containerUrl: storage.outputs.containerUrl
    serverIdentityId: identity.outputs.serverId
    serverClientId: identity.outputs.serverClientId
    vaultUri: vault.outputs.vaultUri
    tokenSecretName: tokenSecretName
    anonymousRead: anonymousRead
    downloads: serverDownloads
    httpServer: serverStack
    zoneRedundant: zoneRedundant
    maxReplicas: maxReplicas
    tags: tags
  }
}

module syncJobs 'modules/sync-jobs.bicep' = if (deployApps) {
  name: 'sync-${suffix}'
  params: {
    namePrefix: prefix
    location: location
    syncSubnetId: network.outputs.syncSubnetId
    workspaceId: monitoring.outputs.workspaceId
    registryServer: registry.outputs.loginServer
    syncImage: syncImage
    containerUrl: storage.outputs.containerUrl
    syncIdentityId: identity.outputs.syncId
    syncClientId: identity.outputs.syncClientId
    upstreamUrl: upstreamUrl
    syncSchedule: syncSchedule
    syncTimeout: syncTimeout
    syncShards: syncShards
    workflowPrincipalId: identity.outputs.workflowPrincipalId
    workflowRoleId: identity.outputs.workflowRoleId
    tags: tags
  }
  dependsOn: [
    egress // the environment is created through the firewall (it pulls from MCR)
  ]
}

module gateway 'modules/gateway.bicep' = if (deployApps && deployGateway) {
  name: 'gateway-${suffix}'
  params: {
    name: '${prefix}-agw'
    location: location
    subnetId: network.outputs.gatewaySubnetId
    linkSubnetId: network.outputs.gatewayLinkSubnetId
    privateIp: gatewayPrivateIp
    hostName: gatewayHostName
    certificateSecretId: gatewayCertificateSecretId
    vaultName: vault.outputs.vaultName
    backendFqdn: deployApps ? apps.outputs.serverFqdn : ''
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module peerToAzureMl 'modules/peering.bicep' = if (!empty(azureMlVnetId)) {
  name: 'peer-to-aml-${suffix}'
  params: {
    localVnetName: network.outputs.vnetName
    remoteVnetId: azureMlVnetId
  }
}

module peerFromAzureMl 'modules/peering.bicep' = if (!empty(azureMlVnetId)) {
  name: 'peer-from-aml-${suffix}'
  scope: resourceGroup(amlVnetSubscription, amlVnetGroup)
  params: {
    localVnetName: last(split(azureMlVnetId, '/'))
    remoteVnetId: network.outputs.vnetId
  }
}

resource amlWorkspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: empty(azureMlWorkspaceName) ? 'none' : azureMlWorkspaceName
  scope: resourceGroup(amlGroup)
}

// The workspace identity approves its managed VNet's private endpoints to the index: granted
// before the outbound rules are created.
module azureMlApprover 'modules/azureml-approver.bicep' = if (withAzureMl && azureMlManagedNetwork) {
  name: 'azureml-approver-${suffix}'
  params: {
    principalId: withAzureMl ? amlWorkspace.identity.principalId : ''
    storageAccountName: storage.outputs.accountName
    gatewayName: deployApps && deployGateway ? gateway.outputs.gatewayName : ''
  }
}

module azureMl 'modules/azureml.bicep' = if (withAzureMl) {
  name: 'azureml-${suffix}'
  scope: resourceGroup(amlGroup)
  params: {
    workspaceName: azureMlWorkspaceName
    indexUrl: !empty(azureMlIndexUrl) ? azureMlIndexUrl : deployGateway ? gateway.outputs.indexUrl : apps.outputs.indexUrl
    anonymousRead: anonymousRead
    feedToken: azureMlFeedToken
    storageAccountId: storage.outputs.accountId
    managedNetwork: azureMlManagedNetwork
    gatewayId: deployGateway ? gateway.outputs.gatewayId : ''
    gatewayHostName: gatewayHostName
  }
  dependsOn: [
    azureMlApprover
  ]
}

@description('The URL pip and uv use as --index-url inside the VNet (empty until deployApps).')
output indexUrl string = deployApps ? apps.outputs.indexUrl : ''

@description('The URL an Azure ML managed VNet uses, through the Application Gateway (empty without deployGateway).')
output gatewayIndexUrl string = deployApps && deployGateway ? gateway.outputs.indexUrl : ''

@description('The resource ID of the Application Gateway (empty without deployGateway).')
output gatewayId string = deployApps && deployGateway ? gateway.outputs.gatewayId : ''

@description('The name of the server container app (empty until deployApps).')
output serverName string = deployApps ? apps.outputs.serverName : ''

@description('The URL of the index container (BLOBPI_STORAGE).')
output containerUrl string = storage.outputs.containerUrl

@description('The name of the storage account.')
output storageAccountName string = storage.outputs.accountName

@description('The name of the container registry.')
output registryName string = registry.outputs.registryName

@description('The login server of the container registry.')
output registryServer string = registry.outputs.loginServer

@description('The registry\'s task agent pool, inside the VNet: az acr build --agent-pool.')
output agentPoolName string = registry.outputs.agentPoolName

@description('The name of the key vault for access tokens.')
output vaultName string = vault.outputs.vaultName

@description('The names of the sync jobs (empty until deployApps).')
output syncJobNames array = deployApps ? syncJobs.outputs.syncJobNames : []

@description('The public address the sync and the builds reach the upstream from (for an upstream that allow-lists clients).')
output egressIp string = egress.outputs.publicIp

@description('The firewall\'s private address, which must equal firewallPrivateIp.')
output firewallIp string = egress.outputs.privateIp

@description('The name of the VNet.')
output vnetName string = network.outputs.vnetName

@description('The client ID of the server identity.')
output serverClientId string = identity.outputs.serverClientId

@description('The client ID of the sync identity.')
output syncClientId string = identity.outputs.syncClientId

@description('The client ID the GitHub workflow signs in with (vars.AZURE_CLIENT_ID); empty without githubRepository.')
output workflowClientId string = identity.outputs.workflowClientId
