// A private endpoint for one sub-resource (blob, registry, vault), with its privatelink DNS
// zone linked to the VNet (and to any extra VNets, e.g. a peered Azure ML VNet), so that the
// service's public host name resolves to the endpoint's private address inside them.

@description('Required. Name of the private endpoint.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the service the endpoint connects to.')
param serviceId string

@description('Required. Sub-resource (group ID) of the service: blob, registry or vault.')
param groupId string

@description('Required. Private DNS zone name, e.g. privatelink.blob.core.windows.net.')
param dnsZoneName string

@description('Required. Resource ID of the subnet for the endpoint.')
param subnetId string

@description('Required. Resource IDs of the VNets to link the DNS zone to (the first is the deployment VNet).')
param vnetIds array

@description('Optional. Tags for all resources.')
param tags object = {}

module zone 'dns-zone.bicep' = {
  name: 'zone-${uniqueString(name, dnsZoneName)}'
  params: {
    name: dnsZoneName
    vnetIds: vnetIds
    tags: tags
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: name
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [
            groupId
          ]
        }
      }
    ]
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: replace(dnsZoneName, '.', '-')
        properties: {
          privateDnsZoneId: zone.outputs.zoneId
        }
      }
    ]
  }
}

@description('The resource ID of the private endpoint.')
output endpointId string = endpoint.id

@description('The resource ID of the private DNS zone.')
output dnsZoneId string = zone.outputs.zoneId
