// What an Azure ML workspace needs to install from the index:
//  - a python_feed workspace connection to the index URL (pip's --index-url in image builds);
//  - with a managed VNet, an outbound private-endpoint rule to the storage account's blob
//    endpoint, so direct blob URLs (SAS + #sha256=) resolve and connect from the managed VNet.
// Deployed in the workspace's resource group.

@description('Required. Name of the Azure ML workspace.')
param workspaceName string

@description('Required. The index URL, https://HOST/simple/.')
param indexUrl string

@description('Required. Resource ID of the storage account that holds the index.')
param storageAccountId string

@description('Optional. Create the python_feed workspace connection to the index.')
param createConnection bool = true

@description('Optional. The workspace uses a managed VNet: add the outbound private-endpoint rule to the blob endpoint.')
param managedNetwork bool = false

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource feed 'Microsoft.MachineLearningServices/workspaces/connections@2024-10-01' = if (createConnection) {
  parent: workspace
  name: 'blobpi'
  properties: {
    category: 'PythonFeed'
    target: indexUrl
    authType: 'None'
    isSharedToAll: true
  }
}

resource blobRule 'Microsoft.MachineLearningServices/workspaces/outboundRules@2024-10-01' = if (managedNetwork) {
  parent: workspace
  name: 'blobpi-blob'
  properties: {
    type: 'PrivateEndpoint'
    category: 'UserDefined'
    destination: {
      serviceResourceId: storageAccountId
      subresourceTarget: 'blob'
      sparkEnabled: false
    }
  }
}
