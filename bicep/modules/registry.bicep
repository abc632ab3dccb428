// The container registry for the blobpi images: Premium (private endpoints and task agent pools
// need it), no admin user, reachable only through its private endpoint. Images are built by
// `az acr build --agent-pool`: a task agent pool in the builds subnet reaches the registry
// through that endpoint. (The shared ACR Tasks agents are no trusted service any more, so a quick
// build on them cannot push to a registry with public access off.)

@description('Required. Name of the registry (5-50 letters and digits).')
@minLength(5)
@maxLength(50)
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the subnet for the registry private endpoint.')
param privateEndpointSubnetId string

@description('Required. Resource IDs of the VNets that resolve the registry (the deployment VNet first).')
param vnetIds array

@description('Required. Resource ID of the builds subnet for the task agent pool.')
param buildsSubnetId string

@description('Required. Resource ID of the Log Analytics workspace for the registry\'s audit logs.')
param workspaceId string

@description('Optional. Name of the task agent pool (az acr build --agent-pool).')
param agentPoolName string = 'builds'

@description('Optional. Days untagged manifests are kept.')
@minValue(1)
@maxValue(365)
param retentionDays int = 30

@description('Optional. Tags for all resources.')
param tags object = {}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_166:Quarantine holds each push until an external scanner releases it; the only images are this repository's own, built inside the network by the registry's own task agent pool from reviewed commits.
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Premium'
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Disabled'
    networkRuleBypassOptions: 'AzureServices' // az acr import of the base image is done by the registry service
    dataEndpointEnabled: true
    zoneRedundancy: 'Enabled'
    policies: {
      retentionPolicy: {
        status: 'enabled'
        days: retentionDays
      }
      exportPolicy: {
        status: 'disabled'
      }
    }
  }
}

// Preview API: agent pools have no other. Tier S1 (2 vCPU) is enough for these images.
resource agentPool 'Microsoft.ContainerRegistry/registries/agentPools@2019-06-01-preview' = {
  parent: registry
  name: agentPoolName
  location: location
  tags: tags
  properties: {
    count: 1
    os: 'Linux'
    tier: 'S1'
    virtualNetworkSubnetResourceId: buildsSubnetId
  }
}

resource registryLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: registry
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

module registryEndpoint 'private-endpoint.bicep' = {
  name: 'registry-endpoint-${uniqueString(registry.id)}'
  params: {
    name: '${name}-pe'
    location: location
    serviceId: registry.id
    groupId: 'registry'
    dnsZoneName: 'privatelink${environment().suffixes.acrLoginServer}'
    subnetId: privateEndpointSubnetId
    vnetIds: vnetIds
    tags: tags
  }
}

@description('The resource ID of the registry.')
output registryId string = registry.id

@description('The name of the registry.')
output registryName string = registry.name

@description('The name of the task agent pool.')
output agentPoolName string = agentPool.name

@description('The login server of the registry, e.g. NAME.azurecr.io.')
output loginServer string = registry.properties.loginServer
