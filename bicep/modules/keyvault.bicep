// Key Vault for the index's access tokens (and the gateway's certificate): RBAC only, purge
// protection, private endpoint only, every access in the audit log.

@description('Required. Name of the key vault (3-24 letters, digits and dashes).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the subnet for the vault private endpoint.')
param privateEndpointSubnetId string

@description('Required. Resource IDs of the VNets that resolve the vault (the deployment VNet first).')
param vnetIds array

@description('Required. Resource ID of the Log Analytics workspace for the vault\'s audit events.')
param workspaceId string

@description('Optional. Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteDays int = 90

@description('Optional. Tags for all resources.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
  }
}

resource vaultLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

module vaultEndpoint 'private-endpoint.bicep' = {
  name: 'vault-endpoint-${uniqueString(vault.id)}'
  params: {
    name: '${name}-pe'
    location: location
    serviceId: vault.id
    groupId: 'vault'
    dnsZoneName: 'privatelink.vaultcore.azure.net'
    subnetId: privateEndpointSubnetId
    vnetIds: vnetIds
    tags: tags
  }
}

@description('The resource ID of the key vault.')
output vaultId string = vault.id

@description('The name of the key vault.')
output vaultName string = vault.name

@description('The URI of the key vault.')
output vaultUri string = vault.properties.vaultUri
