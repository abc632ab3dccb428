// A private DNS zone linked to VNets: the privatelink zones of the private endpoints, and the
// Container Apps environment's own domain (with a wildcard record to its internal address).
// A module, so that a zone named by a runtime value (the environment's domain) can be deployed.

@description('Required. Name of the zone, e.g. privatelink.blob.core.windows.net.')
param name string

@description('Required. Resource IDs of the VNets to link the zone to.')
param vnetIds array

@description('Optional. Address for a wildcard A record (*); empty for none.')
param wildcardIp string = ''

@description('Optional. Tags for all resources.')
param tags object = {}

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: name
  location: 'global'
  tags: tags
}

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for vnetId in vnetIds: {
    parent: zone
    name: 'link-${uniqueString(vnetId)}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnetId
      }
    }
  }
]

resource wildcard 'Microsoft.Network/privateDnsZones/A@2020-06-01' = if (!empty(wildcardIp)) {
  parent: zone
  name: '*'
  properties: {
    ttl: 300
    aRecords: [
      {
        ipv4Address: wildcardIp
      }
    ]
  }
}

@description('The resource ID of the zone.')
output zoneId string = zone.id
