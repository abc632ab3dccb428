// What an Azure ML workspace needs to install from the index, deployed in the workspace's
// resource group:
//  - a python_feed workspace connection to the index URL (pip's --index-url in image builds):
//    the URL the build compute can reach (the Container Apps host from a customer VNet; the
//    Application Gateway's host name from a managed VNet), with the read token as its
//    credential unless anonymous read is on;
//  - with a managed VNet, outbound private-endpoint rules to the storage account's blob endpoint
//    (direct blob URLs) and to the Application Gateway's private frontend (index URL). The
//    workspace identity must hold the network connection approver role on each target before
//    the rules are created (azureml-approver.bicep, which main.bicep deploys first); then
//    `az ml workspace provision-network` creates the endpoints.

@description('Required. Name of the Azure ML workspace.')
param workspaceName string

@description('Required. The index URL the workspace\'s image builds use, https://HOST/simple/.')
param indexUrl string

@description('Required. Resource ID of the storage account that holds the index.')
param storageAccountId string

@description('Optional. Create the python_feed workspace connection to the index.')
param createConnection bool = true

@description('Optional. Clients read without a token: the connection then carries no credential.')
param anonymousRead bool = false

@description('Optional. A read token for the connection (blobpi token create --scope read); required without anonymousRead.')
@secure()
param feedToken string = ''

@description('Optional. The workspace uses a managed VNet: add the outbound private-endpoint rules.')
param managedNetwork bool = false

@description('Optional. Resource ID of the Application Gateway in front of the index; empty for none.')
param gatewayId string = ''

@description('Optional. Host name the managed VNet resolves to the gateway (the index URL\'s host).')
param gatewayHostName string = ''

// Application Gateway private link: the sub-resource is the private frontend configuration,
// whose name must be this one for Azure ML managed VNet outbound rules.
var gatewayFrontend = 'appGwPrivateFrontendIpIPv4'

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-10-01' existing = {
  name: workspaceName
}

resource feed 'Microsoft.MachineLearningServices/workspaces/connections@2024-10-01' = if (createConnection && (anonymousRead || !empty(feedToken))) {
  parent: workspace
  name: 'blobpi'
  properties: anonymousRead ? {
    category: 'PythonFeed'
    target: indexUrl
    authType: 'None'
    isSharedToAll: true
  } : {
    category: 'PythonFeed'
    target: indexUrl
    authType: 'UsernamePassword'
    credentials: {
      username: '__token__'
      password: feedToken
    }
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

resource gatewayRule 'Microsoft.MachineLearningServices/workspaces/outboundRules@2024-10-01' = if (managedNetwork && !empty(gatewayId)) {
  parent: workspace
  name: 'blobpi-index'
  properties: {
    type: 'PrivateEndpoint'
    category: 'UserDefined'
    destination: {
      serviceResourceId: gatewayId
      subresourceTarget: gatewayFrontend
      sparkEnabled: false
    }
    fqdns: [
      gatewayHostName
    ]
  }
}

@description('The python_feed connection\'s name; empty when none was created.')
output connectionName string = createConnection && (anonymousRead || !empty(feedToken)) ? feed.name : ''
