// blobpi in a VNet: the index's storage, registry and key vault reachable only through private
// endpoints; the server and the sync in an internal Container Apps environment; one identity
// per role with the least data-plane roles. See docs/deploy.md for the steps around it.
targetScope = 'resourceGroup'

@description('Optional. Prefix of the resource names (letters, digits, dashes).')
@minLength(2)
@maxLength(12)
param namePrefix string = 'blobpi'

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Deploy the Container Apps environment, server and sync jobs. Set false for the first deployment, before the image is in the registry.')
param deployApps bool = true

@description('Optional. Image in the deployment registry, without the registry host.')
param image string = 'blobpi:latest'

@description('Optional. Image of the sync jobs: the image with the reviewed allow-list baked in (.github/sync.Dockerfile), as the allow-list workflow last built it; empty for image.')
param syncImage string = ''

@description('Required. Upstream simple index the sync mirrors from (PEP 691 JSON), ending in /simple/.')
param upstreamUrl string

@description('Optional. Let clients inside the network read without a token.')
param anonymousRead bool = false

@description('Optional. Cron schedule (UTC) of the sync.')
param syncSchedule string = '17 * * * *'

@description('Optional. Number of sync jobs, each mirroring one shard of the allow-list.')
@minValue(1)
@maxValue(16)
param syncShards int = 1

@description('Optional. Most server replicas under load.')
@minValue(1)
@maxValue(30)
param maxReplicas int = 5

@description('Optional. Address space of the VNet; must not overlap a peered Azure ML VNet.')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet of the Container Apps environment, inside addressPrefix.')
param appsSubnetPrefix string = '10.40.0.0/23'

@description('Optional. Subnet of the private endpoints, inside addressPrefix.')
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

@description('Optional. GitHub repository (OWNER/NAME) whose main-branch workflow may build the image and start the sync; empty for none.')
param githubRepository string = ''

@description('Optional. Resource ID of an existing Azure ML VNet (customer-managed network) to peer with and link the private DNS zones to; empty for none.')
param azureMlVnetId string = ''

@description('Optional. Link the privatelink.blob zone to azureMlVnetId. Set false when that VNet already links a zone of that name (an Azure ML workspace with private storage usually does); then add the account record to that zone (docs/deploy.md).')
param azureMlLinkBlobZone bool = true

@description('Optional. Name of an Azure ML workspace to add the python_feed connection (and, with azureMlManagedNetwork, the blob outbound rule) to; empty for none.')
param azureMlWorkspaceName string = ''

@description('Optional. Resource group of azureMlWorkspaceName; defaults to this one.')
param azureMlResourceGroup string = resourceGroup().name

@description('Optional. The Azure ML workspace uses a managed VNet.')
param azureMlManagedNetwork bool = false

@description('Optional. The server may also write blobs (uploads through its API, token last-use records); off, it only reads.')
param serverUploads bool = false

@description('Optional. Name of a key vault secret that holds the token file, mounted into the server; empty to keep tokens in the container.')
param tokenSecretName string = ''

@description('Optional. Tags for all resources.')
param tags object = {
  application: 'blobpi'
}

var suffix = uniqueString(resourceGroup().id, namePrefix)
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

module network 'modules/network.bicep' = {
  name: 'network-${suffix}'
  params: {
    name: '${namePrefix}-vnet-${suffix}'
    location: location
    addressPrefix: addressPrefix
    appsSubnetPrefix: appsSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring-${suffix}'
  params: {
    name: '${namePrefix}-logs-${suffix}'
    location: location
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
    tags: tags
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry-${suffix}'
  params: {
    name: 'cr${suffix}'
    location: location
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetIds: ownVnet
    tags: tags
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'vault-${suffix}'
  params: {
    name: 'kv-${suffix}'
    location: location
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetIds: ownVnet
    tags: tags
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity-${suffix}'
  params: {
    namePrefix: '${namePrefix}-${suffix}'
    location: location
    storageAccountName: storage.outputs.accountName
    registryName: registry.outputs.registryName
    vaultName: vault.outputs.vaultName
    githubRepository: githubRepository
    serverUploads: serverUploads
    tags: tags
  }
}

module apps 'modules/apps.bicep' = if (deployApps) {
  name: 'apps-${suffix}'
  params: {
    namePrefix: '${namePrefix}-${suffix}'
    location: location
    appsSubnetId: network.outputs.appsSubnetId
    appsSubnetPrefix: appsSubnetPrefix
    vnetIds: appVnetIds
    workspaceId: monitoring.outputs.workspaceId
    registryServer: registry.outputs.loginServer
    image: image
    syncImage: syncImage
    containerUrl: storage.outputs.containerUrl
    serverIdentityId: identity.outputs.serverId
    serverClientId: identity.outputs.serverClientId
    syncIdentityId: identity.outputs.syncId
    syncClientId: identity.outputs.syncClientId
    vaultUri: vault.outputs.vaultUri
    tokenSecretName: tokenSecretName
    anonymousRead: anonymousRead
    maxReplicas: maxReplicas
    syncSchedule: syncSchedule
    upstreamUrl: upstreamUrl
    syncShards: syncShards
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

module azureMl 'modules/azureml.bicep' = if (deployApps && !empty(azureMlWorkspaceName)) {
  name: 'azureml-${suffix}'
  scope: resourceGroup(azureMlResourceGroup)
  params: {
    workspaceName: azureMlWorkspaceName
    indexUrl: deployApps ? apps.outputs.indexUrl : ''
    storageAccountId: storage.outputs.accountId
    managedNetwork: azureMlManagedNetwork
  }
}

@description('The URL pip, uv and Azure ML use as --index-url (empty until deployApps).')
output indexUrl string = deployApps ? apps.outputs.indexUrl : ''

@description('The name of the server container app (empty until deployApps).')
output serverName string = deployApps ? apps.outputs.serverName : ''

@description('The URL of the index container (BLOBPI_STORAGE).')
output containerUrl string = storage.outputs.containerUrl

@description('The name of the container registry.')
output registryName string = registry.outputs.registryName

@description('The name of the key vault for access tokens.')
output vaultName string = vault.outputs.vaultName

@description('The names of the sync jobs (empty until deployApps).')
output syncJobNames array = deployApps ? apps.outputs.syncJobNames : []

@description('The client ID of the server identity.')
output serverClientId string = identity.outputs.serverClientId

@description('The client ID of the sync identity.')
output syncClientId string = identity.outputs.syncClientId

@description('The client ID the GitHub workflow signs in with (vars.AZURE_CLIENT_ID); empty without githubRepository.')
output workflowClientId string = identity.outputs.workflowClientId
