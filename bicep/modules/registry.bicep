// The container registry for the blobpi image: Premium (private endpoints need it), no admin
// user, reachable only through its private endpoint. ACR Tasks (`az acr build`, used by the
// allow-list workflow) reach it as a trusted Azure service.

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

@description('Optional. Days untagged manifests are kept.')
@minValue(1)
@maxValue(365)
param retentionDays int = 30

@description('Optional. Tags for all resources.')
param tags object = {}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_166:Quarantine holds each push until an external scanner releases it; the only images are this repository's own, built inside the registry by ACR Tasks from reviewed commits.
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
    networkRuleBypassOptions: 'AzureServices'
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

@description('The login server of the registry, e.g. NAME.azurecr.io.')
output loginServer string = registry.properties.loginServer
