// The VNet and its egress rules. One subnet per role, each behind its own network security group:
//   apps              the server's Container Apps environment: no internet egress at all
//   sync              the sync jobs' environment: internet egress only through the firewall,
//                     which allows the upstream's hosts and the platform's own endpoints
//   builds            the registry's task agent pool (image builds inside the network), same
//   private-endpoints storage, registry, key vault
//   AzureFirewallSubnet, and (with the Application Gateway) gateway and gateway-link.
// The route table sends the sync's and the builds' 0.0.0.0/0 to the firewall's private address:
// Azure Firewall takes the first free address of its subnet (the fourth, x.x.x.4).

@description('Required. Name of the virtual network.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Optional. Address space of the virtual network.')
param addressPrefix string = '10.40.0.0/16'

@description('Optional. Subnet of the server\'s Container Apps environment (at least /27; delegated to Microsoft.App/environments).')
param appsSubnetPrefix string = '10.40.0.0/23'

@description('Optional. Subnet of the private endpoints of storage, registry and key vault.')
param privateEndpointSubnetPrefix string = '10.40.2.0/24'

@description('Optional. Subnet of the sync jobs\' Container Apps environment (at least /27).')
param syncSubnetPrefix string = '10.40.3.0/27'

@description('Optional. Subnet of the registry\'s task agent pool, which builds the images inside the network.')
param buildsSubnetPrefix string = '10.40.3.32/27'

@description('Optional. AzureFirewallSubnet (at least /26).')
param firewallSubnetPrefix string = '10.40.3.64/26'

@description('Optional. Private address the firewall takes: the fourth address of firewallSubnetPrefix.')
param firewallPrivateIp string = '10.40.3.68'

@description('Optional. Add the Application Gateway\'s subnets (index URL for an Azure ML managed VNet).')
param gateway bool = false

@description('Optional. Subnet of the Application Gateway.')
param gatewaySubnetPrefix string = '10.40.4.0/24'

@description('Optional. Subnet of the Application Gateway\'s private link configuration.')
param gatewayLinkSubnetPrefix string = '10.40.5.0/27'

@description('Optional. Tags for all resources.')
param tags object = {}

// Outbound from a workload profiles environment to the platform (Container Apps NSG reference):
// the VNet (private endpoints, peered VNets), Entra ID for managed identity tokens, Microsoft
// Container Registry and Azure Front Door first party for the system containers, Azure Monitor.
var platformOutbound = [
  'AzureActiveDirectory'
  'MicrosoftContainerRegistry'
  'AzureFrontDoor.FirstParty'
  'AzureMonitor'
]
// Outbound a task agent pool needs (ACR "Run a task on a dedicated agent pool": firewall rules).
var agentPoolOutbound = [
  'AzureKeyVault'
  'Storage'
  'EventHub'
  'AzureActiveDirectory'
  'AzureMonitor'
]

var allowVnetOut = {
  name: 'allow-vnet-out'
  properties: {
    priority: 100
    direction: 'Outbound'
    access: 'Allow'
    protocol: '*'
    sourceAddressPrefix: '*'
    sourcePortRange: '*'
    destinationAddressPrefix: 'VirtualNetwork'
    destinationPortRange: '*'
  }
}
var denyInternetOut = {
  name: 'deny-internet-out'
  properties: {
    priority: 4000
    direction: 'Outbound'
    access: 'Deny'
    protocol: '*'
    sourceAddressPrefix: '*'
    sourcePortRange: '*'
    destinationAddressPrefix: 'Internet'
    destinationPortRange: '*'
  }
}
// Internet-bound packets of the sync and builds subnets leave through the firewall (the route
// table's next hop), and an NSG sees them with their internet destination: https only.
var allowHttpsViaFirewall = {
  name: 'allow-https-via-firewall'
  properties: {
    priority: 200
    direction: 'Outbound'
    access: 'Allow'
    protocol: 'Tcp'
    sourceAddressPrefix: '*'
    sourcePortRange: '*'
    destinationAddressPrefix: 'Internet'
    destinationPortRange: '443'
  }
}
var platformRules = [
  for (tag, i) in platformOutbound: {
    name: 'allow-${toLower(replace(tag, '.', '-'))}-out'
    properties: {
      priority: 110 + i
      direction: 'Outbound'
      access: 'Allow'
      protocol: 'Tcp'
      sourceAddressPrefix: '*'
      sourcePortRange: '*'
      destinationAddressPrefix: tag
      destinationPortRange: '443'
    }
  }
]
var egressTagRules = [
  for (tag, i) in union(platformOutbound, agentPoolOutbound): {
    name: 'allow-${toLower(replace(tag, '.', '-'))}-out'
    properties: {
      priority: 110 + i
      direction: 'Outbound'
      access: 'Allow'
      protocol: 'Tcp'
      sourceAddressPrefix: '*'
      sourcePortRange: '*'
      destinationAddressPrefix: tag
      destinationPortRange: '443'
    }
  }
]

// The server's subnet: the VNet and the platform's service tags, no internet.
resource appsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-apps-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: concat([allowVnetOut], platformRules, [denyInternetOut])
  }
}

// The sync's and builds' subnets: internet egress filtered by the firewall (FQDNs, which an
// NSG cannot match), everything else kept to the VNet and the service tags they need.
resource egressNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-egress-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: concat([allowVnetOut], egressTagRules, [allowHttpsViaFirewall, denyInternetOut])
  }
}

resource endpointsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: '${name}-pe-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      denyInternetOut
    ]
  }
}

// Application Gateway v2 subnet rules (Application Gateway infrastructure configuration): the
// GatewayManager ports 65200-65535 and the Azure load balancer must reach it.
resource gatewayNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = if (gateway) {
  name: '${name}-gateway-nsg'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-gateway-manager-in'
        properties: {
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'GatewayManager'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '65200-65535'
        }
      }
      {
        name: 'allow-load-balancer-in'
        properties: {
          priority: 110
          direction: 'Inbound'
          access: 'Allow'
          protocol: '*'
          sourceAddressPrefix: 'AzureLoadBalancer'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
      {
        name: 'allow-vnet-https-in'
        properties: {
          priority: 120
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '443'
        }
      }
      {
        name: 'deny-internet-https-in'
        properties: {
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: 'Tcp'
          sourceAddressPrefix: 'Internet'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '443'
        }
      }
    ]
  }
}

resource egressRoutes 'Microsoft.Network/routeTables@2024-05-01' = {
  name: '${name}-egress-rt'
  location: location
  tags: tags
  properties: {
    disableBgpRoutePropagation: true
    routes: [
      {
        name: 'internet-via-firewall'
        properties: {
          addressPrefix: '0.0.0.0/0'
          nextHopType: 'VirtualAppliance'
          nextHopIpAddress: firewallPrivateIp
        }
      }
    ]
  }
}

var baseSubnets = [
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
  {
    name: 'sync'
    properties: {
      addressPrefix: syncSubnetPrefix
      networkSecurityGroup: {
        id: egressNsg.id
      }
      routeTable: {
        id: egressRoutes.id
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
    name: 'builds'
    properties: {
      addressPrefix: buildsSubnetPrefix
      networkSecurityGroup: {
        id: egressNsg.id
      }
      routeTable: {
        id: egressRoutes.id
      }
    }
  }
  {
    name: 'AzureFirewallSubnet'
    properties: {
      addressPrefix: firewallSubnetPrefix
    }
  }
]
var gatewaySubnets = [
  {
    name: 'gateway'
    properties: {
      addressPrefix: gatewaySubnetPrefix
      networkSecurityGroup: {
        id: gatewayNsg.id
      }
    }
  }
  {
    name: 'gateway-link'
    properties: {
      addressPrefix: gatewayLinkSubnetPrefix
      privateLinkServiceNetworkPolicies: 'Disabled'
    }
  }
]

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
    subnets: concat(baseSubnets, gateway ? gatewaySubnets : [])
  }
}

@description('The resource ID of the virtual network.')
output vnetId string = vnet.id

@description('The name of the virtual network.')
output vnetName string = vnet.name

@description('The resource ID of the server\'s Container Apps subnet.')
output appsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'apps')

@description('The resource ID of the private endpoint subnet.')
output privateEndpointSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'private-endpoints')

@description('The resource ID of the sync jobs\' Container Apps subnet.')
output syncSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'sync')

@description('The resource ID of the registry agent pool\'s subnet.')
output buildsSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'builds')

@description('The resource ID of AzureFirewallSubnet.')
output firewallSubnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'AzureFirewallSubnet')

@description('The resource ID of the Application Gateway subnet (empty without the gateway).')
output gatewaySubnetId string = gateway ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'gateway') : ''

@description('The resource ID of the gateway\'s private link subnet (empty without the gateway).')
output gatewayLinkSubnetId string = gateway ? resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, 'gateway-link') : ''
