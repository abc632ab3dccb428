// The VNet: one subnet for the Container Apps environment, one for private endpoints,
// each behind its own network security group.

@description('Required. Name of the virtual network.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Address space of the virtual network.')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet for the Container Apps environment (at least /27; delegated to Microsoft.App/environments).')
param appsSubnetPrefix string = '10.40.0.0/23'

@description('Optional. Subnet for the private endpoints of storage, registry and key vault.')
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

@description('Optional. Tags for all resources.')
param tags object = {}

resource appsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-apps-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-pe-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: appsSubnetPrefix
          networkSecurityGroup: {
            id: appsNsg.id
          }
          delegations: [
            {
              name: 'container-apps'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: {
            id: endpointsNsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

@description('The resource ID of the virtual network.')
output vnetId string = vnet.id

@description('The name of the virtual network.')
output vnetName string = vnet.name

@description('The resource ID of the Container Apps subnet.')
output appsSubnetId string = vnet.properties.subnets[0].id

@description('The resource ID of the private endpoint subnet.')
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
