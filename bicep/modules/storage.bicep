// The index's only state: a storage account reachable only through its blob private endpoint,
// with Entra ID auth only (no shared keys, no SAS signed with account keys), soft delete and
// versioning so that a bad sync or a deleted container can be undone. Every page write keeps
// the previous page as a version, so a lifecycle rule deletes versions once they are older than
// the soft-delete window; reads, writes and deletes go to the audit log.

@description('Required. Name of the storage account (3-24 lower-case letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Name of the blob container that holds the index.')
param containerName string = 'blobpi'

@description('Optional. Days deleted blobs, versions and containers can be restored.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 14

@description('Optional. Days a previous blob version is kept (every page write makes one).')
@minValue(1)
@maxValue(365)
param versionDays int = 30

@description('Required. Resource ID of the Log Analytics workspace for the blob audit logs.')
param workspaceId string

@description('Optional. Redundancy of the account: zone- and geo-redundant by default.')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param skuName string = 'Standard_GZRS'

@description('Required. Resource ID of the subnet for the blob private endpoint.')
param privateEndpointSubnetId string

@description('Required. Resource IDs of the VNets that resolve the account through the privatelink.blob zone (the deployment VNet first).')
param vnetIds array

@description('Optional. Tags for all resources.')
param tags object = {}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    publicNetworkAccess: 'Disabled'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}

resource versionLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-old-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: versionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

// Storage logs are a per-service setting (the account itself has metrics only).
resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

module blobEndpoint 'private-endpoint.bicep' = {
  name: 'blob-endpoint-${uniqueString(account.id)}'
  params: {
    name: '${name}-blob-pe'
    location: location
    serviceId: account.id
    groupId: 'blob'
    dnsZoneName: 'privatelink.blob.${environment().suffixes.storage}'
    subnetId: privateEndpointSubnetId
    vnetIds: vnetIds
    tags: tags
  }
}

@description('The resource ID of the storage account.')
output accountId string = account.id

@description('The name of the index container.')
output containerName string = container.name

@description('The name of the storage account.')
output accountName string = account.name

@description('The URL of the index container, as BLOBPI_STORAGE takes it.')
output containerUrl string = '${account.properties.primaryEndpoints.blob}${container.name}'
