// Azure Firewall for the sync's and the builds' internet egress: application rules allow https
// only to the upstream index's hosts and to the FQDNs the Container Apps platform and Entra ID
// need (Container Apps "Integrate with Azure Firewall"); network rules allow the service tags
// the registry's task agent pool needs. Everything else is denied and logged.

@description('Required. Name of the firewall.')
param name string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of AzureFirewallSubnet.')
param subnetId string

@description('Required. Address prefixes whose egress the firewall filters (the sync and builds subnets).')
param sourcePrefixes array

@description('Required. Host names the sync and the image builds may reach over https: the upstream index and the hosts its file URLs point at.')
@minLength(1)
param upstreamHosts array

@description('Required. Resource ID of the Log Analytics workspace for the firewall logs.')
param workspaceId string

@description('Optional. Availability zones of the firewall and its address; empty for none.')
param zones array = [
  '1'
  '2'
  '3'
]

@description('Optional. Tags for all resources.')
param tags object = {}

// Container Apps with a user-defined route through Azure Firewall: MCR (all scenarios), the AKS
// package mirrors (all scenarios), and Entra ID for managed identity.
var platformFqdns = [
  'mcr.microsoft.com'
  '*.data.mcr.microsoft.com'
  'packages.aks.azure.com'
  'acs-mirror.azureedge.net'
  'login.microsoftonline.com'
  '*.login.microsoftonline.com'
  '*.login.microsoft.com'
  '*.identity.azure.net'
]
var serviceTags = [
  'AzureKeyVault'
  'Storage'
  'EventHub'
  'AzureActiveDirectory'
  'AzureMonitor'
]

resource address 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${name}-ip'
  location: location
  tags: tags
  zones: zones
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource policy 'Microsoft.Network/firewallPolicies@2024-05-01' = {
  name: '${name}-policy'
  location: location
  tags: tags
  properties: {
    sku: {
      tier: 'Standard'
    }
    threatIntelMode: 'Deny'
  }
}

resource rules 'Microsoft.Network/firewallPolicies/ruleCollectionGroups@2024-05-01' = {
  parent: policy
  name: 'blobpi'
  properties: {
    priority: 200
    ruleCollections: [
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection'
        name: 'platform-service-tags'
        priority: 100
        action: {
          type: 'Allow'
        }
        rules: [
          {
            ruleType: 'NetworkRule'
            name: 'service-tags-https'
            ipProtocols: [
              'TCP'
            ]
            sourceAddresses: sourcePrefixes
            destinationAddresses: serviceTags
            destinationPorts: [
              '443'
            ]
          }
        ]
      }
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection'
        name: 'https-allow-list'
        priority: 200
        action: {
          type: 'Allow'
        }
        rules: [
          {
            ruleType: 'ApplicationRule'
            name: 'upstream'
            protocols: [
              {
                protocolType: 'Https'
                port: 443
              }
            ]
            sourceAddresses: sourcePrefixes
            targetFqdns: upstreamHosts
          }
          {
            ruleType: 'ApplicationRule'
            name: 'container-apps-platform'
            protocols: [
              {
                protocolType: 'Https'
                port: 443
              }
            ]
            sourceAddresses: sourcePrefixes
            targetFqdns: platformFqdns
          }
        ]
      }
    ]
  }
}

resource firewall 'Microsoft.Network/azureFirewalls@2024-05-01' = {
  // checkov:skip=CKV_AZURE_216:A firewall managed by a firewall policy takes its threat intelligence mode from the policy, which sets threatIntelMode Deny above; the firewall's own property is for classic rules only.
  name: name
  location: location
  tags: tags
  zones: zones
  dependsOn: [
    rules
  ]
  properties: {
    sku: {
      name: 'AZFW_VNet'
      tier: 'Standard'
    }
    firewallPolicy: {
      id: policy.id
    }
    ipConfigurations: [
      {
        name: 'ipconfig'
        properties: {
          subnet: {
            id: subnetId
          }
          publicIPAddress: {
            id: address.id
          }
        }
      }
    ]
  }
}

resource firewallLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: firewall
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

@description('The private address of the firewall: the next hop of the egress route table.')
output privateIp string = firewall.properties.ipConfigurations[0].properties.privateIPAddress

@description('The public address the sync and the builds reach the upstream from.')
output publicIp string = address.properties.ipAddress
