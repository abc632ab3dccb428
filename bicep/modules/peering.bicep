// One direction of a VNet peering (deploy it twice, once in each VNet's resource group).

@description('Required. Name of the VNet in this resource group.')
param localVnetName string

@description('Required. Resource ID of the VNet to peer with.')
param remoteVnetId string

resource localVnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: localVnetName
}

resource peering 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = {
  parent: localVnet
  name: 'peer-${uniqueString(remoteVnetId)}'
  properties: {
    remoteVirtualNetwork: {
      id: remoteVnetId
    }
    allowVirtualNetworkAccess: true
    allowForwardedTraffic: false
    allowGatewayTransit: false
    useRemoteGateways: false
  }
}

@description('The resource ID of the peering.')
output peeringId string = peering.id
