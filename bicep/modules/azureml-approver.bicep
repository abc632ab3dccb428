// Lets an Azure ML workspace's managed VNet create (and approve) its private endpoints to the
// index: the workspace identity gets "Azure AI Enterprise Network Connection Approver" on the
// storage account (blob URLs) and on the Application Gateway (index URL). Without it the
// outbound rules stay unapproved and `az ml workspace provision-network` fails.

@description('Required. Principal ID of the workspace\'s managed identity.')
param principalId string

@description('Required. Name of the storage account that holds the index.')
param storageAccountName string

@description('Optional. Name of the Application Gateway in front of the index; empty for none.')
param gatewayName string = ''

var approverRole = 'b556d68e-0be0-4f35-a333-ad7ee1ce17ea' // Azure AI Enterprise Network Connection Approver

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource gateway 'Microsoft.Network/applicationGateways@2024-05-01' existing = {
  name: empty(gatewayName) ? 'none' : gatewayName
}

resource onStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, approverRole)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', approverRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource onGateway 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(gatewayName)) {
  name: guid(gateway.id, principalId, approverRole)
  scope: gateway
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', approverRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
