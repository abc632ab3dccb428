// Log Analytics: where the Container Apps environment sends the server's and the sync's logs.

@description('Required. Name of the Log Analytics workspace.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Days logs are kept.')
@minValue(30)
@maxValue(730)
param retentionDays int = 90

@description('Optional. Tags for all resources.')
param tags object = {}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
    features: {
      disableLocalAuth: true
    }
  }
}

@description('The resource ID of the workspace.')
output workspaceId string = workspace.id

@description('The name of the workspace.')
output workspaceName string = workspace.name
